// The one place a linear layer (out = in · Wᵀ + b) is dispatched. The engine asks the model's scheme which kind
// runs each layer; a kind says which tensors it reads (validated before anything is laid out) and builds a Linear
// that owns its weights in wasm memory. A new weight format is a new LinearKind + registerScheme(), not engine surgery.
//
//   fp32:  `<layer>.weight` (out, in) or the conv weight (D, C, P, P) for patch_embed.proj, `<layer>.bias` (out),
//          packed once by gemm_f32_pack into 4-column panels.
//   w8a8 / w4a8 / w4a16 / w4a4 / simulated: registered by sdk/quant (tensors `<layer>.weight.q`, `<layer>.scale`, ...).

import { VitguardError } from '../errors.js';
import type { ModelMeta, SchemeInfo } from '../format/model.js';
import { numel, toFloat32, type DType, type Tensor } from '../format/safetensors.js';
import { callKernel, type KernelCall, type OpKind } from './program.js';
import type { WasmInstance } from './wasm.js';
import { allocFloatTensor, nonFiniteTensor } from './weights.js';

/** A linear layer of the graph, independent of how its weights are stored. */
export interface LinearSpec {
  /** timm prefix, e.g. 'blocks.3.mlp.fc1', 'patch_embed.proj', 'head'. */
  name: string;
  inFeatures: number;
  outFeatures: number;
  /** The fp32 weight's shape in a timm checkpoint: [out, in], or [D, C, P, P] for the patch embedding. */
  weightShape: number[];
  /** 'patch' (patch embedding), 'block' (qkv, proj, fc1, fc2) or 'head' (head, head_dist). */
  role: 'patch' | 'block' | 'head';
}

/** A tensor a kind needs, with its exact shape and the dtypes it accepts. */
export interface TensorSpec {
  name: string;
  shape: number[];
  dtypes: DType[];
}

export interface LinearBuildContext {
  wasm: WasmInstance;
  tensors: Map<string, Tensor>;
  meta: ModelMeta;
  /** The most rows run() will ever be called with (maxBatch · tokens): size per-call scratch from it. */
  maxRows: number;
  /** How int4-weight kinds hold their weights (EngineOptions.int4Memory); absent = 'auto'. */
  int4Memory?: Int4Memory;
  /** Threads that may run calls() at once (the executor's count): size per-thread scratch from it. Absent = 1. */
  threads?: number;
}

/** 'compact': int4 nibbles in memory (the default, 'auto'); 'fast': expanded to i16 at load. */
export type Int4Memory = 'auto' | 'compact' | 'fast';

export interface Linear {
  readonly kind: string;
  readonly spec: LinearSpec;
  /** Bytes of wasm memory its weights (and scratch) take. */
  readonly bytes: number;
  /** out (rows, outFeatures) = in (rows, inFeatures) · Wᵀ + b; pointers into the instance's memory, rows contiguous. */
  run(inPtr: number, outPtr: number, rows: number): void;
  /**
   * The kernel calls that compute rows [r0, r1) of run(inPtr, outPtr, ·) on thread t (sdk/engine/program.ts): what a
   * thread or the profiler runs. Rows are independent; per-row scratch is indexed by row, per-call scratch by t.
   * Absent: the layer runs JavaScript between kernels and the engine runs its region on one thread.
   */
  calls?(inPtr: number, outPtr: number, r0: number, r1: number, t: number): KernelCall[];
}

/** The profile's name for a layer's GEMM: patch_embed, qkv, proj, fc1, fc2 or head. */
export function linearOp(spec: LinearSpec): OpKind {
  if (spec.role !== 'block') return spec.role === 'patch' ? 'patch_embed' : 'head';
  return spec.name.endsWith('qkv') ? 'qkv' : spec.name.endsWith('proj') ? 'proj' : spec.name.endsWith('fc1') ? 'fc1' : 'fc2';
}

/** run() of a layer that has calls(): all rows on this thread. */
export function runCalls(wasm: WasmInstance, calls: KernelCall[]): void {
  for (const c of calls) callKernel(wasm.kernels, c);
}

export interface LinearKind {
  readonly kind: string;
  /** The tensors this kind reads for a layer (the engine checks presence, shape and dtype before create()). */
  tensors(spec: LinearSpec): TensorSpec[];
  create(spec: LinearSpec, ctx: LinearBuildContext): Linear;
}

export const FLOAT_DTYPES: DType[] = ['F32', 'F16', 'BF16'];

/** Float tensor → Float32Array, rejecting NaN/Inf with the tensor's name. */
export function finiteFloat32(name: string, t: Tensor): Float32Array {
  const a = toFloat32(t);
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) throw nonFiniteTensor(name, a[i], i);
  }
  return a;
}

// --- fp32 ---------------------------------------------------------------------------------------------------

class F32Linear implements Linear {
  readonly kind = 'f32';
  readonly bytes: number;
  private readonly packed: number;

  constructor(readonly spec: LinearSpec, private readonly wasm: WasmInstance, tensors: Map<string, Tensor>) {
    const { heap, kernels } = wasm;
    const N = spec.outFeatures, K = spec.inFeatures;
    this.bytes = kernels.gemm_f32_packed_bytes(N, K);
    this.packed = heap.alloc(this.bytes);
    const mark = heap.mark();
    // the file's bytes straight into wasm memory, checked (and widened from F16/BF16) there: sdk/engine/weights.ts
    const wPtr = allocFloatTensor(wasm, `${spec.name}.weight`, tensors.get(`${spec.name}.weight`)!);
    const bPtr = allocFloatTensor(wasm, `${spec.name}.bias`, tensors.get(`${spec.name}.bias`)!);
    kernels.gemm_f32_pack(this.packed, wPtr, bPtr, N, K);
    heap.release(mark);
  }

  run(inPtr: number, outPtr: number, rows: number): void {
    runCalls(this.wasm, this.calls(inPtr, outPtr, 0, rows));
  }

  calls(inPtr: number, outPtr: number, r0: number, r1: number): KernelCall[] {
    const { outFeatures: N, inFeatures: K } = this.spec;
    return [{ op: linearOp(this.spec), fn: 'gemm_f32', args: [outPtr + r0 * N * 4, inPtr + r0 * K * 4, this.packed, r1 - r0, N, K, K, N] }];
  }
}

export const F32_LINEAR: LinearKind = {
  kind: 'f32',
  tensors: (spec) => [
    { name: `${spec.name}.weight`, shape: spec.weightShape, dtypes: FLOAT_DTYPES },
    { name: `${spec.name}.bias`, shape: [spec.outFeatures], dtypes: FLOAT_DTYPES },
  ],
  create: (spec, ctx) => {
    if (numel(spec.weightShape) !== spec.inFeatures * spec.outFeatures) {
      throw new VitguardError('E_TENSOR_SHAPE', `${spec.name}: weight shape ${JSON.stringify(spec.weightShape)} is not ${spec.outFeatures}×${spec.inFeatures}`);
    }
    return new F32Linear(spec, ctx.wasm, ctx.tensors);
  },
};

// --- schemes ------------------------------------------------------------------------------------------------

/** Picks the kind for one layer of a model with this scheme (e.g. keep the patch embedding and head in f32). */
export type SchemeResolver = (spec: LinearSpec, scheme: SchemeInfo) => LinearKind;

const schemes = new Map<string, SchemeResolver>([['fp32', () => F32_LINEAR]]);

/** Teach the engine a scheme (sdk/quant calls this for w8a8, w4a8, ...). Re-registering a name replaces it. */
export function registerScheme(name: string, resolver: SchemeResolver): void {
  schemes.set(name, resolver);
}

export function registeredSchemes(): string[] {
  return [...schemes.keys()];
}

export function linearKindFor(spec: LinearSpec, scheme: SchemeInfo): LinearKind {
  const resolver = schemes.get(scheme.name);
  if (!resolver) {
    throw new VitguardError('E_SCHEME', `model scheme "${scheme.name}" is not known to this engine (known: ${registeredSchemes().join(', ')}); import the quantization module that registers it`);
  }
  return resolver(spec, scheme);
}
