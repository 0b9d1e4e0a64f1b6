// int8 × int8 → i32 GEMM with a dequantizing epilogue (w8a8):
//   out (M, N) f32 = ( f32(Σ_k a[m,k]·w[n,k]) · sw[n] · sa[m] ) + bias[n]        (left to right, no FMA)
// a: per-row quantized activations, sa (M) their scales; w: int8 weights (N, K) symmetric per output channel, sw (N).
//
// Weights are kept resident as i16 (widened once at pack time) in panels of Q8_NR = 8 output columns, "c2" order:
// for each pair of k, two v128 = [c0k c0k+1 c1k c1k+1 c2k c2k+1 c3k c3k+1], [c4 .. c7]. One `i32x4.dot_i16x8_s`
// of a broadcast activation pair against a panel vector yields 4 output columns directly: no horizontal sums.
// Both builds (simd and relaxed) run this same path: `relaxed_dot_i8x16_i7x16_add_s` would need 7-bit weights
// (its second operand must be 0..127, see FACTS.md), which would change the numbers between builds, and i16-resident
// weights with dot_i16x8_s measured as fast as relaxed int8 anyway. The relaxed dot is used by the int4 kernels.
//
// Packed buffer, per panel p (columns 8p .. 8p+7, zero-padded past N):
//   sw f32[8] | bias f32[8] | Kp/2 × (2 × v128) weights          Kp = K rounded up to a multiple of 8
// Activations: i16 (M, Kp), columns K.. zero (quantize_act_rows with qBytes = 2, ldq = q8_kpad(K)).

import { storeKPairs8, storeLanes } from './memory';

export const Q8_NR: i32 = 8;
const Q8_MR: i32 = 4;

/** Row stride (elements) of the i16 activation matrix the int8 GEMM reads. */
export function q8_kpad(K: i32): i32 {
  return (K + 7) & ~7;
}

/** Bytes of the packed weight buffer for an (N, K) int8 weight. */
export function gemm_q8_packed_bytes(N: i32, K: i32): usize {
  const panels = <usize>((N + Q8_NR - 1) / Q8_NR);
  return panels * (64 + <usize>q8_kpad(K) * 16);
}

/** Bytes of the i16 activation scratch for M rows of K: (M, Kp) i16. Scales need M·4 more bytes. */
export function gemm_q8_act_bytes(M: i32, K: i32): usize {
  return <usize>M * <usize>q8_kpad(K) * 2;
}

// --- packing ---------------------------------------------------------------------------------------

/**
 * dst (gemm_q8_packed_bytes) ← wq i8 (N, K), sw f32 (N), bias f32 (N) or 0 for none. Full panels widen 8 k of each of
 * the 8 rows at once (load8x8_s) and transpose their k-pairs into place; the last partial panel (N % 8) and the
 * K % 8 columns go through gemm_q8_pack_ref's loop. Same bytes as the ref.
 */
export function gemm_q8_pack(wq: usize, sw: usize, bias: usize, N: i32, K: i32, dst: usize): void {
  const Kp = q8_kpad(K);
  const K8 = K & ~7;
  const full = N / Q8_NR;
  const panelBytes = <usize>64 + <usize>Kp * 16;
  const ldw = <usize>K;
  for (let pi = 0; pi < full; pi++) {
    const n0 = pi * Q8_NR;
    let p = dst + <usize>pi * panelBytes;
    v128.store(p, v128.load(sw + (<usize>n0 << 2)));
    v128.store(p, v128.load(sw + (<usize>n0 << 2), 16), 16);
    v128.store(p, bias != 0 ? v128.load(bias + (<usize>n0 << 2)) : i32x4.splat(0), 32);
    v128.store(p, bias != 0 ? v128.load(bias + (<usize>n0 << 2), 16) : i32x4.splat(0), 48);
    p += 64;
    const r = wq + <usize>n0 * ldw;
    for (let k = 0; k < K8; k += 8) {
      // row c as four i32 lanes, each a k-pair of i16: [c(k,k+1) c(k+2,k+3) c(k+4,k+5) c(k+6,k+7)]
      const q = r + <usize>k;
      const r0 = v128.load8x8_s(q), r1 = v128.load8x8_s(q + ldw), r2 = v128.load8x8_s(q + 2 * ldw), r3 = v128.load8x8_s(q + 3 * ldw);
      const r4 = v128.load8x8_s(q + 4 * ldw), r5 = v128.load8x8_s(q + 5 * ldw), r6 = v128.load8x8_s(q + 6 * ldw), r7 = v128.load8x8_s(q + 7 * ldw);
      storeKPairs8(p, r0, r1, r2, r3, r4, r5, r6, r7);
      p += 128;
    }
    for (let k = K8; k < Kp; k += 2) {
      for (let c = 0; c < Q8_NR; c++) {
        const rc = r + <usize>c * ldw;
        store<i16>(p + <usize>c * 4, k < K ? <i32>load<i8>(rc + <usize>k) : 0);
        store<i16>(p + <usize>c * 4 + 2, k + 1 < K ? <i32>load<i8>(rc + <usize>(k + 1)) : 0);
      }
      p += 32;
    }
  }
  if (full * Q8_NR < N) {
    // the last, partial panel as the ref packs it (a packing of rows [n0, N) at its own offset)
    const n0 = full * Q8_NR;
    gemm_q8_pack_ref(wq + <usize>n0 * ldw, sw + (<usize>n0 << 2), bias != 0 ? bias + (<usize>n0 << 2) : 0, N - n0, K, dst + <usize>full * panelBytes);
  }
}

/** gemm_q8_pack's scalar twin: element by element, zero past N and K. */
export function gemm_q8_pack_ref(wq: usize, sw: usize, bias: usize, N: i32, K: i32, dst: usize): void {
  const Kp = q8_kpad(K);
  const panels = (N + Q8_NR - 1) / Q8_NR;
  let p = dst;
  for (let pi = 0; pi < panels; pi++) {
    const n0 = pi * Q8_NR;
    for (let c = 0; c < Q8_NR; c++) {
      const n = n0 + c;
      store<f32>(p + <usize>c * 4, n < N ? load<f32>(sw + <usize>n * 4) : 0);
      store<f32>(p + 32 + <usize>c * 4, n < N && bias != 0 ? load<f32>(bias + <usize>n * 4) : 0);
    }
    p += 64;
    for (let k = 0; k < Kp; k += 2) {
      for (let c = 0; c < Q8_NR; c++) {
        const n = n0 + c;
        for (let j = 0; j < 2; j++) {
          const kk = k + j;
          const v: i32 = n < N && kk < K ? <i32>load<i8>(wq + <usize>n * <usize>K + <usize>kk) : 0;
          store<i16>(p + <usize>(c * 2 + j) * 2, v);
        }
      }
      p += 32;
    }
  }
}

// --- kernel ------------------------------------------------------------------------------------------

// A partial panel's outputs are stored lane by lane from registers: no static staging buffer, which two threads on
// one shared memory would race on (the -mt builds).
// @ts-ignore: decorator
@inline function storeCols(out: usize, y0: v128, y1: v128, nValid: i32): void {
  if (nValid >= 8) {
    v128.store(out, y0);
    v128.store(out, y1, 16);
  } else if (nValid >= 4) {
    v128.store(out, y0);
    if (nValid > 4) storeLanes(out + 16, y1, nValid - 4);
  } else {
    storeLanes(out, y0, nValid);
  }
}

// @ts-ignore: decorator
@inline function epilogue(acc: v128, sw: v128, sa: f32, b: v128): v128 {
  return f32x4.add(f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(acc), sw), f32x4.splat(sa)), b);
}

/**
 * gemm_q8: out (M, N) f32 = a (M, Kp) i16 · W (N, K)ᵀ int8 dequantized, W pre-packed by gemm_q8_pack.
 * sa f32 (M) activation scales. Register tile 4 rows × 8 columns (8 i32x4 accumulators).
 */
export function gemm_q8(a: usize, sa: usize, packed: usize, out: usize, M: i32, N: i32, K: i32): void {
  const Kp = q8_kpad(K);
  const lda = <usize>Kp * 2;
  const panels = (N + Q8_NR - 1) / Q8_NR;
  const panelBytes: usize = <usize>Kp * 16 + 64;
  const ldo = <usize>N * 4;
  const M4 = M & ~(Q8_MR - 1);
  const steps = Kp >> 1;
  for (let pi = 0; pi < panels; pi++) {
    const pp = packed + <usize>pi * panelBytes;
    const n0 = pi * Q8_NR;
    const nValid = N - n0;
    const sw0 = v128.load(pp), sw1 = v128.load(pp, 16);
    const b0 = v128.load(pp, 32), b1 = v128.load(pp, 48);
    let m = 0;
    for (; m < M4; m += 4) {
      let a0 = a + <usize>m * lda;
      let a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
      let wp = pp + 64;
      let c00 = i32x4.splat(0), c01 = i32x4.splat(0), c10 = i32x4.splat(0), c11 = i32x4.splat(0);
      let c20 = i32x4.splat(0), c21 = i32x4.splat(0), c30 = i32x4.splat(0), c31 = i32x4.splat(0);
      const wend = wp + <usize>steps * 32; // the loop ends on a pointer, not a counter: one register and add less
      while (wp < wend) {
        const w0 = v128.load(wp), w1 = v128.load(wp, 16);
        const x0 = v128.load32_splat(a0);
        c00 = i32x4.add(c00, i32x4.dot_i16x8_s(x0, w0)); c01 = i32x4.add(c01, i32x4.dot_i16x8_s(x0, w1));
        const x1 = v128.load32_splat(a1);
        c10 = i32x4.add(c10, i32x4.dot_i16x8_s(x1, w0)); c11 = i32x4.add(c11, i32x4.dot_i16x8_s(x1, w1));
        const x2 = v128.load32_splat(a2);
        c20 = i32x4.add(c20, i32x4.dot_i16x8_s(x2, w0)); c21 = i32x4.add(c21, i32x4.dot_i16x8_s(x2, w1));
        const x3 = v128.load32_splat(a3);
        c30 = i32x4.add(c30, i32x4.dot_i16x8_s(x3, w0)); c31 = i32x4.add(c31, i32x4.dot_i16x8_s(x3, w1));
        wp += 32; a0 += 4; a1 += 4; a2 += 4; a3 += 4;
      }
      const o = out + <usize>m * ldo + <usize>n0 * 4;
      let s = load<f32>(sa + <usize>m * 4);
      storeCols(o, epilogue(c00, sw0, s, b0), epilogue(c01, sw1, s, b1), nValid);
      s = load<f32>(sa + <usize>(m + 1) * 4);
      storeCols(o + ldo, epilogue(c10, sw0, s, b0), epilogue(c11, sw1, s, b1), nValid);
      s = load<f32>(sa + <usize>(m + 2) * 4);
      storeCols(o + 2 * ldo, epilogue(c20, sw0, s, b0), epilogue(c21, sw1, s, b1), nValid);
      s = load<f32>(sa + <usize>(m + 3) * 4);
      storeCols(o + 3 * ldo, epilogue(c30, sw0, s, b0), epilogue(c31, sw1, s, b1), nValid);
    }
    for (; m < M; m++) {
      let a0 = a + <usize>m * lda;
      let wp = pp + 64;
      let c00 = i32x4.splat(0), c01 = i32x4.splat(0);
      const wend = wp + <usize>steps * 32;
      while (wp < wend) {
        const x0 = v128.load32_splat(a0);
        c00 = i32x4.add(c00, i32x4.dot_i16x8_s(x0, v128.load(wp)));
        c01 = i32x4.add(c01, i32x4.dot_i16x8_s(x0, v128.load(wp, 16)));
        wp += 32; a0 += 4;
      }
      const s = load<f32>(sa + <usize>m * 4);
      storeCols(out + <usize>m * ldo + <usize>n0 * 4, epilogue(c00, sw0, s, b0), epilogue(c01, sw1, s, b1), nValid);
    }
  }
}

/**
 * Scalar twin on unpacked operands: out (M, N) = ((f32(a (M,K) i8 · wq (N,K)ᵀ i8) · sw[n]) · sa[m]) + bias[n].
 * bias = 0: none.
 */
export function gemm_q8_ref(a: usize, sa: usize, wq: usize, sw: usize, bias: usize, out: usize, M: i32, N: i32, K: i32): void {
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) {
        acc += <i32>load<i8>(a + <usize>m * <usize>K + <usize>k) * <i32>load<i8>(wq + <usize>n * <usize>K + <usize>k);
      }
      const b: f32 = bias != 0 ? load<f32>(bias + <usize>n * 4) : 0;
      const y: f32 = <f32>acc * load<f32>(sw + <usize>n * 4) * load<f32>(sa + <usize>m * 4) + b;
      store<f32>(out + (<usize>m * <usize>N + <usize>n) * 4, y);
    }
  }
}
