// OOD detection: scorers (higher = more in-distribution), metrics (OpenOOD convention), calibrated detectors.
export * from './metrics.js';
export * from './scorers.js';
export * from './threshold.js';
export { encodeArray, decodeArray, base64Encode, base64Decode, type EncodedArray, type ArrayDType } from './codec.js';
export * from './detector.js';
export * from './bootstrap.js';
