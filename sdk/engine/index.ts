// The wasm engine: kernels loading, linear-layer kinds, the forward pass.
export { ATTENTION_MODES, Engine, linearSpecs, validateModel, type AttentionMode, type EngineOptions, type ForwardOptions, type ForwardResult } from './engine.js';
export {
  F32_LINEAR, FLOAT_DTYPES, finiteFloat32, linearKindFor, registerScheme, registeredSchemes,
  type Linear, type LinearBuildContext, type LinearKind, type LinearSpec, type SchemeResolver, type TensorSpec,
} from './linear.js';
export {
  instantiate, loadWasmModule, pickBuild, relaxedSimdSupported, simdSupported, WasmHeap,
  type Kernels, type WasmBuild, type WasmChoice, type WasmInput, type WasmInstance, type WasmSource,
} from './wasm.js';
export { liveThreadWorkers, MAX_THREADS, threadsUnsupported, type ThreadsInfo } from './threads.js';
