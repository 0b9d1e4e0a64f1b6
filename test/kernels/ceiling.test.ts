// The instruction-ceiling micro-kernels (assembly/ceiling.ts) compute exactly the recurrence they document, for
// exactly iters × ceiling_accumulators() instructions: each result is replayed in JavaScript instruction by
// instruction and must match to the bit. That is what makes the op count the profile divides by true (a loop the
// compiler shortened, merged or hoisted would return another value). No timing here: `npm run bench -- --profile`.
// The relaxed build runs in a child node with the flags Node 20 needs (test/kernels/ceiling-values.mjs).

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { relaxedSimdSupported } from '../../sdk/engine/wasm.js';
import { ceilingOps, CEILINGS, ceilingFor } from '../../bench/ceiling.js';

const A = 12; // accumulators, as ceiling_accumulators() must report

/** acc_j = j (every lane); iters × acc = acc·k + k in f32 (k = 1 or 0.5 keeps it exact, so fused = unfused); Σ. */
function f32Madd(iters: number, k: number): number {
  const f = Math.fround;
  let s = 0;
  for (let j = 0; j < A; j++) {
    let v = j;
    for (let n = 0; n < iters; n++) v = f(f(v * k) + k);
    s = j === 0 ? v : f(s + v);
  }
  return 4 * s;
}

/** acc_j = j + 1 (every lane); iters × acc += dot_i16x8_s(acc as i16 pairs, splat(k)); Σ of lanes, i32 wrapping. */
function i16Dot(iters: number, k: number): number {
  const k16 = (k << 16) >> 16;
  let s = 0;
  for (let j = 0; j < A; j++) {
    let x = j + 1;
    for (let n = 0; n < iters; n++) x = (x + Math.imul((x << 16) >> 16, k16) + Math.imul(x >> 16, k16)) | 0;
    s = (s + x) | 0;
  }
  return Math.imul(s, 4) | 0;
}

/** acc_j = j + 1; iters × acc = relaxed_dot_i8x16_i7x16_add_s(acc as 4 signed bytes, splat(k), acc); Σ, wrapping. */
function i8RelaxedDot(iters: number, k: number): number {
  let s = 0;
  for (let j = 0; j < A; j++) {
    let x = j + 1;
    for (let n = 0; n < iters; n++) {
      let d = 0;
      for (let t = 0; t < 4; t++) d += ((x << (24 - 8 * t)) >> 24) * k;
      x = (x + d) | 0;
    }
    s = (s + x) | 0;
  }
  return Math.imul(s, 4) | 0;
}

const CASES = {
  ceiling_f32_madd: [[0, 1], [1, 1], [7, 1], [1000, 1], [1, 0.5], [20, 0.5]],
  ceiling_i16_dot: [[0, 1], [1, 1], [5, 3], [1000, 2], [1000, -2], [257, 300], [1000, 3]],
  ceiling_i8_relaxed_dot: [[0, 1], [1, 1], [5, 3], [1000, 2], [170, 3], [600, 77], [900, 127]],
} as const;

const EMULATE: Record<keyof typeof CASES, (iters: number, k: number) => number> = {
  ceiling_f32_madd: f32Madd,
  ceiling_i16_dot: i16Dot,
  ceiling_i8_relaxed_dot: i8RelaxedDot,
};

type Values = Record<'simd' | 'relaxed', { accumulators: number; relaxed: number; values: Record<keyof typeof CASES, number[]> }>;

function runBoth(): Values {
  const script = fileURLToPath(new URL('./ceiling-values.mjs', import.meta.url));
  const flags = relaxedSimdSupported() ? ['--no-liftoff'] : ['--experimental-wasm-relaxed-simd', '--no-liftoff'];
  return JSON.parse(execFileSync(process.execPath, [...flags, script, JSON.stringify(CASES)], { encoding: 'utf8' })) as Values;
}

describe('ceiling micro-kernels (assembly/ceiling.ts)', () => {
  const got = runBoth();

  it('both builds run 12 accumulators; the relaxed build has relaxed SIMD', () => {
    expect(got.simd.accumulators).toBe(A);
    expect(got.relaxed.accumulators).toBe(A);
    expect([got.simd.relaxed, got.relaxed.relaxed]).toEqual([0, 1]);
  });

  it('every case is sensitive to the iteration count: one instruction per accumulator more or less changes the value', () => {
    expect(f32Madd(7, 1)).toBe(4 * (66 + 12 * 7)); // Σ_j (j + 7), four lanes
    expect(f32Madd(1, 0.5)).toBe(4 * (33 + 6)); // Σ_j (j/2 + 1/2)
    for (const fn of Object.keys(CASES) as Array<keyof typeof CASES>) {
      for (const [n, k] of CASES[fn]) {
        const v = EMULATE[fn](n, k);
        expect(EMULATE[fn](n + 1, k), `${fn}(${n + 1}, ${k})`).not.toBe(v);
        if (n > 0) expect(EMULATE[fn](n - 1, k), `${fn}(${n - 1}, ${k})`).not.toBe(v);
      }
    }
    // and no relaxed case can pass for the simd build's 0
    for (const [n, k] of CASES.ceiling_i8_relaxed_dot) expect(i8RelaxedDot(n, k)).not.toBe(0);
  });

  for (const build of ['simd', 'relaxed'] as const) {
    it(`${build}: f32 multiply-add and i16 dot return the replayed recurrence exactly`, () => {
      for (const fn of ['ceiling_f32_madd', 'ceiling_i16_dot'] as const) {
        const want = CASES[fn].map(([n, k]) => EMULATE[fn](n, k));
        expect(got[build].values[fn], `${build} ${fn}`).toEqual(want);
      }
    });
  }

  it('relaxed: the relaxed int8 dot returns the replayed recurrence exactly; the simd build returns 0 (no relaxed SIMD)', () => {
    const fn = 'ceiling_i8_relaxed_dot';
    expect(got.relaxed.values[fn]).toEqual(CASES[fn].map(([n, k]) => i8RelaxedDot(n, k)));
    expect(got.simd.values[fn]).toEqual(CASES[fn].map(() => 0));
  });

  it('op counts: a madd is 2 ops (8 per f32x4), dot_i16x8 16, relaxed_dot_i8x16 32, per instruction', () => {
    expect(ceilingOps('f32_madd', 1000, A)).toBe(1000 * A * 8);
    expect(ceilingOps('i16_dot', 1000, A)).toBe(1000 * A * 16);
    expect(ceilingOps('i8_relaxed_dot', 1000, A)).toBe(1000 * A * 32);
    expect(Object.values(CEILINGS).map((c) => c.fn).sort()).toEqual(Object.keys(CASES).sort());
  });

  it('each GEMM kernel is compared with the instruction its inner loop is built on', () => {
    expect(ceilingFor('gemm_f32', 'simd')).toBe('f32_madd');
    expect(ceilingFor('gemm_w4a16', 'relaxed')).toBe('f32_madd');
    expect(ceilingFor('gemm_q8', 'relaxed')).toBe('i16_dot');
    expect(ceilingFor('gemm_q4i16', 'simd')).toBe('i16_dot');
    expect(ceilingFor('gemm_q4', 'simd')).toBe('i16_dot');
    expect(ceilingFor('gemm_q4', 'relaxed')).toBe('i8_relaxed_dot');
    expect(ceilingFor('layernorm', 'simd')).toBeNull();
  });
});
