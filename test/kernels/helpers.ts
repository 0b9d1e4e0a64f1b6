// Shared test helpers: a fresh kernel instance with a bump heap, seeded random fills, error measures.

import { instantiate, loadWasmModule, type WasmBuild, type WasmInstance } from '../../sdk/engine/wasm.js';
import { mulberry32 } from '../../sdk/model/random.js';

export const SIZES = [1, 3, 7, 15, 16, 17, 31, 33, 127, 129];

export async function kernelInstance(build: WasmBuild = 'simd'): Promise<WasmInstance> {
  return instantiate(await loadWasmModule(build), build);
}

/** Uniform [lo, hi) floats from a seeded generator. */
export function randomF32(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = mulberry32(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** max |a − b| relative to max |b|: the engine-vs-reference measure of the model-level tests. */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return maxAbsDiff(a, b) / Math.max(maxAbs(b), 1e-12);
}
