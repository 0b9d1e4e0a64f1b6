// Laying a model file's tensors into wasm memory. The tensor's bytes are copied in as they are (one memcpy from the
// file's buffer) and checked or widened there by the loading kernels (assembly/load.ts): no JavaScript loop over the
// weights and no intermediate Float32Array. F16 and BF16 are copied into the upper half of their f32 destination and
// widened in place, so they need no scratch either.

import { VitguardError } from '../errors.js';
import { numel, toFloat32, type Tensor } from '../format/safetensors.js';
import type { WasmInstance } from './wasm.js';

/** The loading exports of the wasm build (assembly/load.ts); each returns the first NaN/±Inf's index, or -1. */
export interface LoadKernels {
  find_nonfinite_f32(src: number, n: number): number;
  convert_f16_f32(dst: number, src: number, n: number): number;
  convert_bf16_f32(dst: number, src: number, n: number): number;
}

function loadKernels(wasm: WasmInstance): LoadKernels {
  const k = wasm.kernels as unknown as LoadKernels & Record<string, unknown>;
  if (typeof k.find_nonfinite_f32 !== 'function' || typeof k.convert_f16_f32 !== 'function') {
    throw new VitguardError('E_WASM', 'this wasm build has no loading kernels (find_nonfinite_f32, convert_f16_f32): rebuild it with `npm run build:wasm`');
  }
  return k;
}

/** The error of a float tensor holding NaN or ±Inf (the same wherever it is found). */
export function nonFiniteTensor(name: string, value: number, index: number): VitguardError {
  return new VitguardError('E_NONFINITE', `tensor ${name} has a non-finite value (${value}) at flat index ${index}: the checkpoint is corrupt or was saved after a diverged step`);
}

/**
 * Write a float tensor (F32, F16, BF16; F64 through JavaScript) as f32 at dst, which holds numel·4 bytes.
 * checkFinite (default true): a NaN/±Inf is E_NONFINITE naming the tensor and its flat index; false copies the values
 * as they are (the quantization scales, which the loader never checked).
 */
export function writeFloatTensor(wasm: WasmInstance, dst: number, name: string, t: Tensor, checkFinite = true): void {
  const { heap } = wasm;
  const n = numel(t.shape);
  let bad: number;
  if (t.dtype === 'F32') {
    heap.u8(dst, 4 * n).set(t.bytes);
    bad = checkFinite ? loadKernels(wasm).find_nonfinite_f32(dst, n) : -1;
  } else if (t.dtype === 'F16' || t.dtype === 'BF16') {
    const k = loadKernels(wasm);
    heap.u8(dst + 2 * n, 2 * n).set(t.bytes);
    bad = t.dtype === 'F16' ? k.convert_f16_f32(dst, dst + 2 * n, n) : k.convert_bf16_f32(dst, dst + 2 * n, n);
  } else {
    heap.writeF32(dst, toFloat32(t)); // F64 (rare), or the E_TENSOR_SHAPE of a tensor that is not floating-point
    bad = loadKernels(wasm).find_nonfinite_f32(dst, n);
  }
  if (bad >= 0 && checkFinite) throw nonFiniteTensor(name, heap.f32(dst + 4 * bad, 1)[0], bad);
}

/** Allocate numel·4 bytes and write the tensor there as f32 (see writeFloatTensor); returns the pointer. */
export function allocFloatTensor(wasm: WasmInstance, name: string, t: Tensor, checkFinite = true): number {
  const p = wasm.heap.alloc(4 * numel(t.shape));
  writeFloatTensor(wasm, p, name, t, checkFinite);
  return p;
}

/** Allocate and copy a tensor's raw bytes (int8 / packed int4 weights) as they are; returns the pointer. */
export function allocBytes(wasm: WasmInstance, t: Tensor): number {
  const p = wasm.heap.alloc(t.bytes.byteLength);
  wasm.heap.u8(p, t.bytes.byteLength).set(t.bytes);
  return p;
}
