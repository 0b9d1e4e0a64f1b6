// Compact JSON encoding of the float arrays a fitted scorer keeps (they live in a model file's __metadata__,
// which is a JSON string): { dtype: 'f32' | 'f16', shape: [..], b64: little-endian bytes in base64 }.
// Self-contained base64 (no Buffer / atob), so it runs the same in Node, browsers and Cloudflare Workers.

import { VitguardError } from '../errors.js';
import { f16ToF32, f32ToF16 } from '../format/safetensors.js';

export type ArrayDType = 'f32' | 'f16';

export interface EncodedArray {
  dtype: ArrayDType;
  shape: number[];
  b64: string;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i;

export function base64Encode(bytes: Uint8Array): string {
  const parts: string[] = [];
  const CHUNK = 3 * 4096;
  for (let start = 0; start < bytes.length; start += CHUNK) {
    const end = Math.min(bytes.length, start + CHUNK);
    const codes: number[] = [];
    for (let i = start; i < end; i += 3) {
      const b0 = bytes[i];
      const b1 = i + 1 < end ? bytes[i + 1] : 0;
      const b2 = i + 2 < end ? bytes[i + 2] : 0;
      codes.push(ALPHABET.charCodeAt(b0 >> 2), ALPHABET.charCodeAt(((b0 & 3) << 4) | (b1 >> 4)));
      codes.push(i + 1 < end ? ALPHABET.charCodeAt(((b1 & 15) << 2) | (b2 >> 6)) : 61);
      codes.push(i + 2 < end ? ALPHABET.charCodeAt(b2 & 63) : 61);
    }
    parts.push(String.fromCharCode(...codes));
  }
  return parts.join('');
}

export function base64Decode(s: string): Uint8Array {
  if (s.length % 4 !== 0) throw new VitguardError('E_OOD', `base64 data has length ${s.length}, not a multiple of 4`);
  let pad = 0;
  if (s.endsWith('==')) pad = 2;
  else if (s.endsWith('=')) pad = 1;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    const q = [0, 0, 0, 0];
    for (let j = 0; j < 4; j++) {
      const c = s.charCodeAt(i + j);
      if (c === 61 && i + j >= s.length - pad) { q[j] = 0; continue; }
      const v = c < 128 ? LOOKUP[c] : -1;
      if (v < 0) throw new VitguardError('E_OOD', `base64 data has an invalid character at ${i + j}`);
      q[j] = v;
    }
    const n = (q[0] << 18) | (q[1] << 12) | (q[2] << 6) | q[3];
    if (o < out.length) out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

/** Round every value through the storage dtype (identity for f32 beyond the f32 rounding itself). */
export function roundTo(dtype: ArrayDType, data: Float32Array): Float32Array {
  if (dtype === 'f32') return data;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = f16ToF32(f32ToF16(data[i]));
  return out;
}

export function encodeArray(data: Float32Array, shape: number[], dtype: ArrayDType = 'f32'): EncodedArray {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new VitguardError('E_INPUT', `encodeArray: shape ${JSON.stringify(shape)} has ${n} elements, data ${data.length}`);
  const bytes = new Uint8Array(n * (dtype === 'f32' ? 4 : 2));
  const dv = new DataView(bytes.buffer);
  if (dtype === 'f32') for (let i = 0; i < n; i++) dv.setFloat32(4 * i, data[i], true);
  else for (let i = 0; i < n; i++) dv.setUint16(2 * i, f32ToF16(data[i]), true);
  return { dtype, shape: shape.slice(), b64: base64Encode(bytes) };
}

/** Decode, checking dtype and (when given) the expected shape; `what` names the field in error messages. */
export function decodeArray(enc: unknown, what: string, expectShape?: number[]): Float32Array {
  const e = enc as Partial<EncodedArray> | null;
  if (typeof e !== 'object' || e === null || (e.dtype !== 'f32' && e.dtype !== 'f16') || !Array.isArray(e.shape) || typeof e.b64 !== 'string') {
    throw new VitguardError('E_OOD', `fitted OOD statistics: ${what} is not an encoded array {dtype, shape, b64}`);
  }
  if (!e.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new VitguardError('E_OOD', `fitted OOD statistics: ${what} has invalid shape ${JSON.stringify(e.shape)}`);
  if (expectShape && (expectShape.length !== e.shape.length || expectShape.some((d, i) => d !== e.shape![i]))) {
    throw new VitguardError('E_OOD', `fitted OOD statistics: ${what} has shape ${JSON.stringify(e.shape)}, expected ${JSON.stringify(expectShape)}`);
  }
  const n = e.shape.reduce((a, b) => a * b, 1);
  const bytes = base64Decode(e.b64);
  const width = e.dtype === 'f32' ? 4 : 2;
  if (bytes.length !== n * width) throw new VitguardError('E_OOD', `fitted OOD statistics: ${what} has ${bytes.length} bytes, expected ${n * width}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  if (e.dtype === 'f32') for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
  else for (let i = 0; i < n; i++) out[i] = f16ToF32(dv.getUint16(2 * i, true));
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(out[i])) throw new VitguardError('E_NONFINITE', `fitted OOD statistics: ${what}[${i}] is ${out[i]}`);
  }
  return out;
}

/**
 * A stored JSON object (or its string) checked for its `format` tag; `what` names it in the E_OOD errors
 * ("OOD scorer", "OOD detector"). Fields beyond `format` are the caller's to check.
 */
export function parseTaggedJSON<T extends { format: string }>(json: T | string, format: string, what: string): Partial<T> {
  let o: unknown = json;
  if (typeof json === 'string') {
    try {
      o = JSON.parse(json);
    } catch (e) {
      throw new VitguardError('E_OOD', `${what} JSON does not parse: ${(e as Error).message}`);
    }
  }
  const d = o as Partial<T> | null;
  if (typeof d !== 'object' || d === null || d.format !== format) {
    throw new VitguardError('E_OOD', `${what} JSON has format ${JSON.stringify(d && (d as { format?: unknown }).format)}, expected "${format}"`);
  }
  return d;
}
