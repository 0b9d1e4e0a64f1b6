// f32 GEMM: out (M, N) = in (M, K) · W (N, K)ᵀ + b (N), with W pre-packed once at load into 4-column panels,
// and the unpacked "NT" form (both operands row-major along K) that attention uses.
//
// Micro-kernel: a 2×4 register tile of dot-product accumulators (8 v128) + 2 input vectors + 1 weight vector = 11
// live v128, under V8's 16 XMM registers. Both operands are read contiguously along K, 4 k at a time; the four
// lane partial sums are folded at the end of K with hsum4. K % 4 leftovers run on a scalar-broadcast tail; M and N
// tails clamp the row pointers to the last valid row and store only the valid lanes.

import { madd4, hsum4, storeLanes } from './memory';

// --- packing ------------------------------------------------------------------------------------------------
//
// One panel per 4 output columns n0..n0+3 (rows of W; zero beyond N), 4·(K+1) floats:
//   [0, 4)                 bias[n0 .. n0+3]
//   [4, 4 + 4·K4)          K4/4 blocks of 16 floats: W[n0+r][k .. k+3] for r = 0..3   (K4 = K rounded down to 4)
//   [4 + 4·K4, 4 + 4·K)    K−K4 groups of 4 floats: W[n0+r][k] for r = 0..3, k = K4 .. K−1
// so the inner loop reads one weight stream in order.

/** Bytes of the packed form of W (N, K) + b (N). */
export function gemm_f32_packed_bytes(N: i32, K: i32): usize {
  return <usize>((N + 3) >> 2) * <usize>(K + 1) * 16;
}

/**
 * Pack W (N, K) row-major and b (N) (bias = 0: no bias) into dst (gemm_f32_packed_bytes(N, K) bytes). Full panels
 * copy whole v128 rows; a partial last panel (N % 4) goes through gemm_f32_pack_ref's loop. Same bytes as the ref.
 */
export function gemm_f32_pack(dst: usize, w: usize, bias: usize, N: i32, K: i32): void {
  const K4 = K & ~3;
  const full = N >> 2;
  const ldw = <usize>K << 2;
  const panelBytes = <usize>(K + 1) << 4;
  for (let pi = 0; pi < full; pi++) {
    const n0 = pi << 2;
    let p = dst + <usize>pi * panelBytes;
    v128.store(p, bias != 0 ? v128.load(bias + (<usize>n0 << 2)) : f32x4.splat(0));
    p += 16;
    const r0 = w + <usize>n0 * ldw, r1 = r0 + ldw, r2 = r1 + ldw, r3 = r2 + ldw;
    for (let k = 0; k < K4; k += 4) {
      const o = <usize>k << 2;
      v128.store(p, v128.load(r0 + o));
      v128.store(p, v128.load(r1 + o), 16);
      v128.store(p, v128.load(r2 + o), 32);
      v128.store(p, v128.load(r3 + o), 48);
      p += 64;
    }
    for (let k = K4; k < K; k++) {
      const o = <usize>k << 2;
      store<f32>(p, load<f32>(r0 + o));
      store<f32>(p, load<f32>(r1 + o), 4);
      store<f32>(p, load<f32>(r2 + o), 8);
      store<f32>(p, load<f32>(r3 + o), 12);
      p += 16;
    }
  }
  if (full << 2 < N) {
    // the last, partial panel: rows n0 .. N-1 as the ref packs them (a packing of rows [n0, N) at its own offset)
    const n0 = full << 2;
    gemm_f32_pack_ref(dst + <usize>full * panelBytes, w + <usize>n0 * ldw, bias != 0 ? bias + (<usize>n0 << 2) : 0, N - n0, K);
  }
}

/** gemm_f32_pack's scalar twin: element by element, zero past N. */
export function gemm_f32_pack_ref(dst: usize, w: usize, bias: usize, N: i32, K: i32): void {
  const K4 = K & ~3;
  const panels = (N + 3) >> 2;
  let p = dst;
  for (let pi = 0; pi < panels; pi++) {
    const n0 = pi << 2;
    for (let r = 0; r < 4; r++) {
      const n = n0 + r;
      store<f32>(p + (<usize>r << 2), n < N && bias != 0 ? load<f32>(bias + (<usize>n << 2)) : 0);
    }
    p += 16;
    for (let k = 0; k < K4; k += 4) {
      for (let r = 0; r < 4; r++) {
        const n = n0 + r;
        for (let j = 0; j < 4; j++) {
          const v: f32 = n < N ? load<f32>(w + ((<usize>n * <usize>K + <usize>(k + j)) << 2)) : 0;
          store<f32>(p + (<usize>(r * 4 + j) << 2), v);
        }
      }
      p += 64;
    }
    for (let k = K4; k < K; k++) {
      for (let r = 0; r < 4; r++) {
        const n = n0 + r;
        store<f32>(p + (<usize>r << 2), n < N ? load<f32>(w + ((<usize>n * <usize>K + <usize>k) << 2)) : 0);
      }
      p += 16;
    }
  }
}

// --- packed GEMM --------------------------------------------------------------------------------------------

/**
 * out (M, N; row stride ldc) = in (M, K; row stride lda) · Wᵀ + b, W and b packed by gemm_f32_pack.
 * Strides are in elements.
 */
export function gemm_f32(out: usize, inp: usize, packed: usize, M: i32, N: i32, K: i32, lda: i32, ldc: i32): void {
  const K4 = K & ~3;
  const panels = (N + 3) >> 2;
  const panelBytes = <usize>(K + 1) * 16;
  const aStride = <usize>lda << 2;
  const cStride = <usize>ldc << 2;
  // Rows are taken in blocks of MB so the block (MB·K·4 bytes, ≤ 96 KiB) stays in L2 while each panel (in L1)
  // passes over it: the weights stream from memory once per block, the inputs once per panel from L2.
  let MB = (98304 / (K * 4)) & ~1;
  if (MB < 2) MB = 2;
  for (let m0 = 0; m0 < M; m0 += MB) {
    const m1 = min(M, m0 + MB);
    for (let pi = 0; pi < panels; pi++) {
      const wPanel = packed + <usize>pi * panelBytes;
      const n0 = pi << 2;
      const nValid = min(4, N - n0);
      const bias = v128.load(wPanel);
      for (let m = m0; m < m1; m += 2) {
        const a0 = inp + <usize>m * aStride;
        const two = m + 1 < m1;
        const a1 = two ? a0 + aStride : a0;
        let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c02 = f32x4.splat(0), c03 = f32x4.splat(0);
        let c10 = f32x4.splat(0), c11 = f32x4.splat(0), c12 = f32x4.splat(0), c13 = f32x4.splat(0);
        let wp = wPanel + 16;
        const aEnd = a0 + (<usize>K4 << 2);
        let pa0 = a0, pa1 = a1;
        while (pa0 < aEnd) {
          const x0 = v128.load(pa0);
          const x1 = v128.load(pa1);
          let w = v128.load(wp);
          c00 = madd4(x0, w, c00);
          c10 = madd4(x1, w, c10);
          w = v128.load(wp, 16);
          c01 = madd4(x0, w, c01);
          c11 = madd4(x1, w, c11);
          w = v128.load(wp, 32);
          c02 = madd4(x0, w, c02);
          c12 = madd4(x1, w, c12);
          w = v128.load(wp, 48);
          c03 = madd4(x0, w, c03);
          c13 = madd4(x1, w, c13);
          pa0 += 16;
          pa1 += 16;
          wp += 64;
        }
        let r0 = f32x4.add(hsum4(c00, c01, c02, c03), bias);
        let r1 = f32x4.add(hsum4(c10, c11, c12, c13), bias);
        for (let k = K4; k < K; k++) {
          const w = v128.load(wp);
          r0 = madd4(v128.load32_splat(a0 + (<usize>k << 2)), w, r0);
          r1 = madd4(v128.load32_splat(a1 + (<usize>k << 2)), w, r1);
          wp += 16;
        }
        const o = out + <usize>m * cStride + (<usize>n0 << 2);
        storeLanes(o, r0, nValid);
        if (two) storeLanes(o + cStride, r1, nValid);
      }
    }
  }
}

/** Scalar twin of gemm_f32 on the unpacked W (N, K) and b (N; 0 = none); accumulates in f64. */
export function gemm_f32_ref(out: usize, inp: usize, w: usize, bias: usize, M: i32, N: i32, K: i32, lda: i32, ldc: i32): void {
  for (let m = 0; m < M; m++) {
    const a = inp + (<usize>m * <usize>lda << 2);
    for (let n = 0; n < N; n++) {
      const wr = w + (<usize>n * <usize>K << 2);
      let s: f64 = bias != 0 ? <f64>load<f32>(bias + (<usize>n << 2)) : 0;
      for (let k = 0; k < K; k++) s += <f64>load<f32>(a + (<usize>k << 2)) * <f64>load<f32>(wr + (<usize>k << 2));
      store<f32>(out + ((<usize>m * <usize>ldc + <usize>n) << 2), <f32>s);
    }
  }
}

// --- NT GEMM on unpacked operands (attention) --------------------------------------------------------------

/** out (M, N; ldc) = A (M, K; lda) · B (N, K; ldb)ᵀ. No bias. Strides in elements. */
export function gemm_f32_nt(out: usize, a: usize, b: usize, M: i32, N: i32, K: i32, lda: i32, ldb: i32, ldc: i32): void {
  const K4 = K & ~3;
  const aStride = <usize>lda << 2;
  const bStride = <usize>ldb << 2;
  const cStride = <usize>ldc << 2;
  const bLast = b + <usize>(N - 1) * bStride;
  for (let m = 0; m < M; m += 2) {
    const a0 = a + <usize>m * aStride;
    const two = m + 1 < M;
    const a1 = two ? a0 + aStride : a0;
    for (let n0 = 0; n0 < N; n0 += 4) {
      const nValid = min(4, N - n0);
      const b0 = b + <usize>n0 * bStride;
      const b1 = nValid > 1 ? b0 + bStride : bLast;
      const b2 = nValid > 2 ? b1 + bStride : bLast;
      const b3 = nValid > 3 ? b2 + bStride : bLast;
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c02 = f32x4.splat(0), c03 = f32x4.splat(0);
      let c10 = f32x4.splat(0), c11 = f32x4.splat(0), c12 = f32x4.splat(0), c13 = f32x4.splat(0);
      const kEnd = <usize>K4 << 2;
      for (let o: usize = 0; o < kEnd; o += 16) {
        const x0 = v128.load(a0 + o);
        const x1 = v128.load(a1 + o);
        let w = v128.load(b0 + o);
        c00 = madd4(x0, w, c00);
        c10 = madd4(x1, w, c10);
        w = v128.load(b1 + o);
        c01 = madd4(x0, w, c01);
        c11 = madd4(x1, w, c11);
        w = v128.load(b2 + o);
        c02 = madd4(x0, w, c02);
        c12 = madd4(x1, w, c12);
        w = v128.load(b3 + o);
        c03 = madd4(x0, w, c03);
        c13 = madd4(x1, w, c13);
      }
      let r0 = hsum4(c00, c01, c02, c03);
      let r1 = hsum4(c10, c11, c12, c13);
      for (let k = K4; k < K; k++) {
        const o = <usize>k << 2;
        let w = f32x4.splat(load<f32>(b0 + o));
        w = f32x4.replace_lane(w, 1, load<f32>(b1 + o));
        w = f32x4.replace_lane(w, 2, load<f32>(b2 + o));
        w = f32x4.replace_lane(w, 3, load<f32>(b3 + o));
        r0 = madd4(v128.load32_splat(a0 + o), w, r0);
        r1 = madd4(v128.load32_splat(a1 + o), w, r1);
      }
      const oc = out + <usize>m * cStride + (<usize>n0 << 2);
      storeLanes(oc, r0, nValid);
      if (two) storeLanes(oc + cStride, r1, nValid);
    }
  }
}

/** Scalar twin of gemm_f32_nt; accumulates in f64. */
export function gemm_f32_nt_ref(out: usize, a: usize, b: usize, M: i32, N: i32, K: i32, lda: i32, ldb: i32, ldc: i32): void {
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s: f64 = 0;
      for (let k = 0; k < K; k++) {
        s += <f64>load<f32>(a + ((<usize>m * <usize>lda + <usize>k) << 2)) * <f64>load<f32>(b + ((<usize>n * <usize>ldb + <usize>k) << 2));
      }
      store<f32>(out + ((<usize>m * <usize>ldc + <usize>n) << 2), <f32>s);
    }
  }
}

// --- patch embedding ----------------------------------------------------------------------------------------

/**
 * im2col for a stride-P, P×P convolution: img (C, S, S) → dst (G·G, C·P·P) with G = S / P, each row one patch
 * in (c, y, x) order — the order of a conv weight (D, C, P, P) flattened to (D, C·P·P). Patch embedding is then
 * gemm_f32 of dst with that weight.
 */
export function patch_im2col(dst: usize, img: usize, C: i32, S: i32, P: i32): void {
  const G = S / P;
  const rowLen = C * P * P;
  const run = <usize>P << 2;
  for (let gy = 0; gy < G; gy++) {
    for (let gx = 0; gx < G; gx++) {
      let d = dst + (<usize>(gy * G + gx) * <usize>rowLen << 2);
      for (let c = 0; c < C; c++) {
        for (let iy = 0; iy < P; iy++) {
          const s = img + ((<usize>(c * S + gy * P + iy) * <usize>S + <usize>(gx * P)) << 2);
          memory.copy(d, s, run);
          d += run;
        }
      }
    }
  }
}
