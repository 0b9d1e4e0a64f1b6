// Instruction ceilings: register-only loops that issue one multiply-accumulate instruction per accumulator per
// iteration, CEILING_ACC independent accumulators deep, so that the loop runs at the instruction's throughput and not
// its latency. `npm run bench -- --profile` times them beside each GEMM, in the same process and build, and reports
// every GEMM's GOP/s as a percentage of the ceiling of the instruction its inner loop is built on:
//
//   export                    instruction (this build)                      ops per instruction   GEMMs on it
//   ceiling_f32_madd          f32x4 mul + add (simd) / relaxed_madd (relaxed)   4 lanes × 2 = 8   gemm_f32, gemm_w4a16, attention
//   ceiling_i16_dot           i32x4.dot_i16x8_s + i32x4.add                     8 MACs × 2 = 16   gemm_q8, gemm_q4i16, gemm_q4 (simd)
//   ceiling_i8_relaxed_dot    i32x4.relaxed_dot_i8x16_i7x16_add_s               16 MACs × 2 = 32  gemm_q4 (relaxed)
//
// So one call does iters · CEILING_ACC instructions: ops = iters · ceiling_accumulators() · (ops per instruction).
//
// Each accumulator feeds its own next instruction (acc = acc·k + k; acc += dot(acc, k); acc = dot(acc, k) + acc):
// no instruction has loop-invariant operands, so neither Binaryen nor V8 can hoist or merge one (a dot of two
// constants is computed once by Binaryen's -O3), and the value returned depends on every instruction having run —
// the tests replay the recurrence in JavaScript and compare. The chains are then as long as the instruction's
// latency plus the add's; 12 accumulators cover the longest (f32 mul then add: ~6 cycles × 2 per cycle) and leave
// 3 of V8's 16 XMM registers (13 live v128: the accumulators and k). 14 accumulators spilled and lost half.
// k is a runtime argument so that nothing folds (x·1 is a multiply like any other to the CPU); the bench times the
// integer kernels with k = 2, whose recurrences never settle into a cycle (the tests pick cases that do not either).

import { madd4 } from './memory';

const CEILING_ACC: i32 = 12;

/** Accumulators (independent instructions) per loop iteration of every ceiling_* kernel. */
export function ceiling_accumulators(): i32 {
  return CEILING_ACC;
}

// @ts-ignore: decorator
@inline function hsumF32(v: v128): f64 {
  return <f64>f32x4.extract_lane(v, 0) + <f64>f32x4.extract_lane(v, 1) + <f64>f32x4.extract_lane(v, 2) + <f64>f32x4.extract_lane(v, 3);
}

// @ts-ignore: decorator
@inline function hsumI32(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}

/**
 * iters × 12 f32x4 multiply-adds acc = acc·k + k (fused on the relaxed build, a multiply then an add on the simd
 * build: the form this build's gemm_f32 uses). Accumulator j starts at j in every lane. Returns Σ of all lanes of
 * all accumulators (in f64, after the f32 lanes are summed accumulator by accumulator in f32, j = 0..11).
 * Use k = 1 or 0.5 (or any k that keeps the values normal: denormals are 4× slower, FACTS.md).
 */
export function ceiling_f32_madd(iters: i32, k: f32): f64 {
  const kv = f32x4.splat(k);
  let c0 = f32x4.splat(0), c1 = f32x4.splat(1), c2 = f32x4.splat(2), c3 = f32x4.splat(3);
  let c4 = f32x4.splat(4), c5 = f32x4.splat(5), c6 = f32x4.splat(6), c7 = f32x4.splat(7);
  let c8 = f32x4.splat(8), c9 = f32x4.splat(9), c10 = f32x4.splat(10), c11 = f32x4.splat(11);
  for (let n = 0; n < iters; n++) {
    c0 = madd4(c0, kv, kv); c1 = madd4(c1, kv, kv); c2 = madd4(c2, kv, kv); c3 = madd4(c3, kv, kv);
    c4 = madd4(c4, kv, kv); c5 = madd4(c5, kv, kv); c6 = madd4(c6, kv, kv); c7 = madd4(c7, kv, kv);
    c8 = madd4(c8, kv, kv); c9 = madd4(c9, kv, kv); c10 = madd4(c10, kv, kv); c11 = madd4(c11, kv, kv);
  }
  let s = f32x4.add(c0, c1);
  s = f32x4.add(s, c2); s = f32x4.add(s, c3); s = f32x4.add(s, c4); s = f32x4.add(s, c5); s = f32x4.add(s, c6);
  s = f32x4.add(s, c7); s = f32x4.add(s, c8); s = f32x4.add(s, c9); s = f32x4.add(s, c10); s = f32x4.add(s, c11);
  return hsumF32(s);
}

// @ts-ignore: decorator
@inline function dot16(c: v128, kv: v128): v128 {
  return i32x4.add(c, i32x4.dot_i16x8_s(c, kv));
}

/**
 * iters × 12 of acc = acc + dot_i16x8_s(acc as i16x8, splat(k)), the instruction pair of the int8 GEMMs' inner loop
 * (weights resident as i16). Accumulator j starts at j + 1 in every i32 lane. Returns Σ of all lanes (i32, wrapping).
 */
export function ceiling_i16_dot(iters: i32, k: i32): i32 {
  const kv = i16x8.splat(<i16>k);
  let c0 = i32x4.splat(1), c1 = i32x4.splat(2), c2 = i32x4.splat(3), c3 = i32x4.splat(4);
  let c4 = i32x4.splat(5), c5 = i32x4.splat(6), c6 = i32x4.splat(7), c7 = i32x4.splat(8);
  let c8 = i32x4.splat(9), c9 = i32x4.splat(10), c10 = i32x4.splat(11), c11 = i32x4.splat(12);
  for (let n = 0; n < iters; n++) {
    c0 = dot16(c0, kv); c1 = dot16(c1, kv); c2 = dot16(c2, kv); c3 = dot16(c3, kv);
    c4 = dot16(c4, kv); c5 = dot16(c5, kv); c6 = dot16(c6, kv); c7 = dot16(c7, kv);
    c8 = dot16(c8, kv); c9 = dot16(c9, kv); c10 = dot16(c10, kv); c11 = dot16(c11, kv);
  }
  let s = i32x4.add(c0, c1);
  s = i32x4.add(s, c2); s = i32x4.add(s, c3); s = i32x4.add(s, c4); s = i32x4.add(s, c5); s = i32x4.add(s, c6);
  s = i32x4.add(s, c7); s = i32x4.add(s, c8); s = i32x4.add(s, c9); s = i32x4.add(s, c10); s = i32x4.add(s, c11);
  return hsumI32(s);
}

// @ts-ignore: decorator
@inline function dot8(c: v128, kv: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return i32x4.relaxed_dot_i8x16_i7x16_add_s(c, kv, c);
  } else {
    return c;
  }
}

/**
 * iters × 12 of acc = relaxed_dot_i8x16_i7x16_add_s(acc as i8x16, splat(k), acc), the instruction of the relaxed
 * int4 GEMM; k must be 0..127 (the second operand's high bit clear: the portable range, FACTS.md). Accumulator j
 * starts at j + 1 in every lane. Returns Σ of all lanes (i32, wrapping). The simd build has no relaxed SIMD: there it
 * returns 0 at once (check has_relaxed_simd()).
 */
export function ceiling_i8_relaxed_dot(iters: i32, k: i32): i32 {
  if (!ASC_FEATURE_RELAXED_SIMD) return 0;
  const kv = i8x16.splat(<i8>k);
  let c0 = i32x4.splat(1), c1 = i32x4.splat(2), c2 = i32x4.splat(3), c3 = i32x4.splat(4);
  let c4 = i32x4.splat(5), c5 = i32x4.splat(6), c6 = i32x4.splat(7), c7 = i32x4.splat(8);
  let c8 = i32x4.splat(9), c9 = i32x4.splat(10), c10 = i32x4.splat(11), c11 = i32x4.splat(12);
  for (let n = 0; n < iters; n++) {
    c0 = dot8(c0, kv); c1 = dot8(c1, kv); c2 = dot8(c2, kv); c3 = dot8(c3, kv);
    c4 = dot8(c4, kv); c5 = dot8(c5, kv); c6 = dot8(c6, kv); c7 = dot8(c7, kv);
    c8 = dot8(c8, kv); c9 = dot8(c9, kv); c10 = dot8(c10, kv); c11 = dot8(c11, kv);
  }
  let s = i32x4.add(c0, c1);
  s = i32x4.add(s, c2); s = i32x4.add(s, c3); s = i32x4.add(s, c4); s = i32x4.add(s, c5); s = i32x4.add(s, c6);
  s = i32x4.add(s, c7); s = i32x4.add(s, c8); s = i32x4.add(s, c9); s = i32x4.add(s, c10); s = i32x4.add(s, c11);
  return hsumI32(s);
}
