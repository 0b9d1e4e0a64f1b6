// A forward pass as a sequence of regions of kernel calls, so that one description serves three executors:
// in order on one thread, timed per op (the profile), or split across threads (rows of a GEMM, heads of attention).
//
// A region is work with no dependency inside it across the split: a row region runs its steps on every row range
// [r0, r1) in step order (a row of fc2 needs only its own row of fc1: the whole MLP is one region); an item region
// runs its step once per item (one image × head of attention). Between regions every thread has finished.

import type { Kernels } from './wasm.js';

/** What a call computes, for the profile (`npm run bench -- --profile`). */
export type OpKind =
  | 'patch_embed' | 'qkv' | 'proj' | 'fc1' | 'fc2' | 'head' // the GEMMs
  | 'act_quant' // activation quantization before an integer GEMM
  | 'attn_quant' | 'attn_qk' | 'attn_softmax' | 'attn_pv' // attention: q·kᵀ, softmax, P·v (+ int8 quantization)
  | 'layernorm' | 'gelu' | 'residual' | 'tokens'; // tokens: im2col, class/position tokens, pooling copies

export const GEMM_OPS: readonly OpKind[] = ['patch_embed', 'qkv', 'proj', 'fc1', 'fc2', 'head'];

/**
 * One call of a kernel export: the unit the profiler times and a thread runs. Args are numbers (pointers, sizes).
 * `js` (a layer that runs JavaScript between its kernels, e.g. the calibration probe): called instead of fn; such a
 * call only ever comes from a region marked serial.
 */
export interface KernelCall {
  op: OpKind;
  fn: string;
  args: number[];
  js?: () => void;
}

/** Rows [r0, r1) of the region's matrix; t = the running thread (0 .. threads-1), to pick per-thread scratch. */
export type RowStep = (r0: number, r1: number, t: number) => KernelCall[];
/** Item i of the region (e.g. image b, head h as i = b·heads + h); t as above. */
export type ItemStep = (i: number, t: number) => KernelCall[];

/** serial: some step runs JavaScript (KernelCall.js), so the region runs on one thread, whole. */
export type Region = { rows: number; steps: RowStep[]; serial?: boolean } | { items: number; step: ItemStep; serial?: boolean };

/** Runs regions. The engine holds one; the threaded executor (sdk/engine/threads.ts) implements the same interface. */
export interface Executor {
  /** Threads that take part (1 = this one only). Per-thread scratch is laid for this many. */
  readonly threads: number;
  run(region: Region): void;
}

export function callKernel(k: Kernels, c: KernelCall): void {
  if (c.js) c.js();
  else (k as unknown as Record<string, (...a: number[]) => void>)[c.fn](...c.args);
}

/** All calls of a region on this thread, in order. */
export function regionCalls(region: Region): KernelCall[] {
  if ('rows' in region) return region.steps.flatMap((s) => s(0, region.rows, 0));
  const out: KernelCall[] = [];
  for (let i = 0; i < region.items; i++) out.push(...region.step(i, 0));
  return out;
}

/** One thread, in order. */
export class SerialExecutor implements Executor {
  readonly threads = 1;
  constructor(private readonly k: Kernels) {}
  run(region: Region): void {
    for (const c of regionCalls(region)) callKernel(this.k, c);
  }
}

/** Milliseconds and calls per op kind, summed over the forwards run while it was attached. */
export class Profile {
  readonly ms = new Map<OpKind, number>();
  readonly calls = new Map<OpKind, number>();
  /** The kernel exports each op kind ran (the profile's GEMM lines name them and pick their instruction ceiling). */
  readonly fns = new Map<OpKind, Set<string>>();
  forwards = 0;
  /** now: the clock calls are timed with, in ms (the bench passes process CPU time on a shared machine). */
  constructor(readonly now: () => number = () => performance.now()) {}
  add(op: OpKind, ms: number, fn?: string): void {
    this.ms.set(op, (this.ms.get(op) ?? 0) + ms);
    this.calls.set(op, (this.calls.get(op) ?? 0) + 1);
    if (fn !== undefined) {
      let s = this.fns.get(op);
      if (!s) this.fns.set(op, (s = new Set()));
      s.add(fn);
    }
  }
}

/** One thread, in order, each call timed with the profile's clock (performance.now() by default) into it. */
export class ProfilingExecutor implements Executor {
  readonly threads = 1;
  constructor(private readonly k: Kernels, readonly profile: Profile) {}
  run(region: Region): void {
    const now = this.profile.now;
    for (const c of regionCalls(region)) {
      const t0 = now();
      callKernel(this.k, c);
      this.profile.add(c.op, now() - t0, c.js ? 'js' : c.fn);
    }
  }
}

/**
 * Row ranges of R rows over n threads: contiguous, multiples of 4 rows (the GEMM register tile) except the last.
 * Every row in exactly one range; empty ranges are dropped.
 */
export function splitRows(R: number, n: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let r0 = 0;
  for (let t = 1; t <= n; t++) {
    const r1 = t === n ? R : Math.min(R, Math.round((R * t) / n / 4) * 4);
    if (r1 > r0) out.push([r0, r1]);
    r0 = Math.max(r0, r1);
  }
  return out;
}
