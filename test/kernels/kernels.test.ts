// Every SIMD kernel against its scalar `_ref` twin (f64 inside) on seeded random data, at sizes that exercise
// every tail (1, 3, 7, 15, 16, 17, 31, 33, 127, 129) and at real ViT shapes. Tolerances are stated per kernel.

import { beforeAll, describe, expect, it } from 'vitest';
import type { WasmInstance } from '../../sdk/engine/wasm.js';
import { kernelInstance, maxAbs, maxAbsDiff, randomF32, SIZES } from './helpers.js';
import { erf } from '../oracle/js-reference.js'; // f64, to ~1e-13 (checked in test/oracle)

let w: WasmInstance;
beforeAll(async () => {
  w = await kernelInstance('simd');
});

/** GEMM error bound: f32 accumulation over K terms of size ≤ 1 against an f64 reference. */
const gemmTol = (ref: Float32Array, K: number) => 2e-7 * K + 1e-6 * maxAbs(ref);

function checkGemm(M: number, N: number, K: number, lda = K, ldc = N, seed = M * 7919 + N * 104729 + K): void {
  const { heap, kernels: k } = w;
  const mark = heap.used;
  const A = heap.allocF32(randomF32((M - 1) * lda + K, seed));
  const W = heap.allocF32(randomF32(N * K, seed + 1));
  const B = heap.allocF32(randomF32(N, seed + 2));
  const P = heap.alloc(k.gemm_f32_packed_bytes(N, K));
  const outLen = (M - 1) * ldc + N;
  const O = heap.allocF32(new Float32Array(outLen).fill(123));
  const R = heap.allocF32(new Float32Array(outLen).fill(123));
  k.gemm_f32_pack(P, W, B, N, K);
  k.gemm_f32(O, A, P, M, N, K, lda, ldc);
  k.gemm_f32_ref(R, A, W, B, M, N, K, lda, ldc);
  const o = heap.readF32(O, outLen);
  const r = heap.readF32(R, outLen);
  const err = maxAbsDiff(o, r);
  expect(err, `gemm_f32 M=${M} N=${N} K=${K} lda=${lda} ldc=${ldc}`).toBeLessThanOrEqual(gemmTol(r, K));
  // the padding between strided output rows is untouched
  for (let m = 0; m < M - 1; m++) for (let j = N; j < ldc; j++) expect(o[m * ldc + j]).toBe(123);
  // and the f64 reference is right: spot-check one element in plain JS
  const a = heap.f32(A, (M - 1) * lda + K), wt = heap.f32(W, N * K), b = heap.f32(B, N);
  let s = b[N - 1];
  for (let kk = 0; kk < K; kk++) s += a[(M - 1) * lda + kk] * wt[(N - 1) * K + kk];
  expect(Math.abs(r[(M - 1) * ldc + N - 1] - s)).toBeLessThan(1e-5 * (1 + Math.abs(s)));
  void mark;
}

describe('gemm_f32 (packed) vs gemm_f32_ref', () => {
  it('every tail size in M, N and K', () => {
    for (const s of SIZES) {
      checkGemm(s, 17, 33);
      checkGemm(7, s, 31);
      checkGemm(5, 9, s);
      checkGemm(s, s, s);
    }
  });
  it('strided input and output rows', () => {
    checkGemm(15, 9, 13, 20, 11);
    checkGemm(33, 17, 64, 70, 40);
  });
  it('real ViT shapes (qkv, proj, fc1, fc2, patch embed, head)', () => {
    checkGemm(197, 576, 192);
    checkGemm(197, 192, 192);
    checkGemm(197, 768, 192);
    checkGemm(197, 192, 768);
    checkGemm(196, 192, 768);
    checkGemm(2, 1000, 192);
  });
});

function checkGemmNT(M: number, N: number, K: number, lda = K, ldb = K, ldc = N): void {
  const { heap, kernels: k } = w;
  const seed = M * 31 + N * 17 + K;
  const A = heap.allocF32(randomF32((M - 1) * lda + K, seed));
  const B = heap.allocF32(randomF32((N - 1) * ldb + K, seed + 1));
  const outLen = (M - 1) * ldc + N;
  const O = heap.alloc(outLen * 4);
  const R = heap.alloc(outLen * 4);
  k.gemm_f32_nt(O, A, B, M, N, K, lda, ldb, ldc);
  k.gemm_f32_nt_ref(R, A, B, M, N, K, lda, ldb, ldc);
  const r = heap.readF32(R, outLen);
  expect(maxAbsDiff(heap.readF32(O, outLen), r), `gemm_f32_nt M=${M} N=${N} K=${K}`).toBeLessThanOrEqual(gemmTol(r, K));
}

describe('gemm_f32_nt vs ref', () => {
  it('every tail size', () => {
    for (const s of SIZES) {
      checkGemmNT(s, 17, 33);
      checkGemmNT(7, s, 31);
      checkGemmNT(5, 9, s);
      checkGemmNT(s, s, s);
    }
  });
  it('attention shapes with qkv strides', () => {
    checkGemmNT(197, 197, 64, 576, 576, 197); // q kᵀ
    checkGemmNT(197, 64, 197, 197, 197, 192); // p vᵀ
  });
});

describe('layernorm', () => {
  it('vs ref at every D, eps honoured', () => {
    const { heap, kernels: k } = w;
    for (const D of [...SIZES, 192, 384, 768]) {
      const rows = 5;
      const X = heap.allocF32(randomF32(rows * D, D, -3, 5));
      const G = heap.allocF32(randomF32(D, D + 1, 0.5, 1.5));
      const Bt = heap.allocF32(randomF32(D, D + 2));
      const O = heap.alloc(rows * D * 4), R = heap.alloc(rows * D * 4);
      for (const eps of [1e-6, 1e-5, 0.5]) {
        k.layernorm(O, X, G, Bt, rows, D, eps);
        k.layernorm_ref(R, X, G, Bt, rows, D, eps);
        const r = heap.readF32(R, rows * D);
        expect(maxAbsDiff(heap.readF32(O, rows * D), r), `layernorm D=${D}`).toBeLessThan(2e-5 * Math.max(1, maxAbs(r)));
      }
      // the reference itself: normalised row has mean≈beta-weighted, check one element in JS
      const x = heap.f32(X, D);
      const mean = x.reduce((a, b) => a + b, 0) / D;
      const v = x.reduce((a, b) => a + (b - mean) ** 2, 0) / D;
      const want = ((x[D - 1] - mean) / Math.sqrt(v + 0.5)) * heap.f32(G, D)[D - 1] + heap.f32(Bt, D)[D - 1];
      expect(heap.readF32(R, D)[D - 1]).toBeCloseTo(want, 5);
    }
  });
});

describe('gelu (exact, erf)', () => {
  it('simd and ref agree with the exact GELU to 1e-6·(1+|x|) over [-8, 8]', () => {
    const { heap, kernels: k } = w;
    const n = 16001;
    const xs = new Float32Array(n);
    for (let i = 0; i < n; i++) xs[i] = -8 + (16 * i) / (n - 1);
    const X = heap.allocF32(xs), O = heap.alloc(n * 4), R = heap.alloc(n * 4);
    k.gelu(O, X, n);
    k.gelu_ref(R, X, n);
    const o = heap.readF32(O, n), r = heap.readF32(R, n);
    let eo = 0, er = 0;
    for (let i = 0; i < n; i++) {
      const x = xs[i];
      const exact = 0.5 * x * (1 + erf(x / Math.SQRT2));
      eo = Math.max(eo, Math.abs(o[i] - exact) / (1 + Math.abs(x)));
      er = Math.max(er, Math.abs(r[i] - exact) / (1 + Math.abs(x)));
    }
    expect(eo).toBeLessThan(1e-6);
    expect(er).toBeLessThan(1e-6);
    // GELU(2) = 2·Φ(2) = 1.9544997361; the tanh approximation gives 1.9545977 (off by 1e-4): it must not pass.
    expect(Math.abs(o[Math.round(((2 + 8) / 16) * (n - 1))] - 1.9544997361)).toBeLessThan(1e-6);
  });
  it('vs ref at every tail size, in place', () => {
    const { heap, kernels: k } = w;
    for (const n of SIZES) {
      const X = heap.allocF32(randomF32(n, n, -6, 6)), R = heap.alloc(n * 4);
      k.gelu_ref(R, X, n);
      k.gelu(X, X, n);
      expect(maxAbsDiff(heap.readF32(X, n), heap.readF32(R, n))).toBeLessThan(2e-6);
    }
  });
  it('erf_ref is within 1.3e-7 of erf', () => {
    for (let x = -5; x <= 5; x += 0.01) expect(Math.abs(w.kernels.erf_ref(x) - erf(x))).toBeLessThan(1.3e-7);
  });
});

describe('softmax_rows', () => {
  it('vs ref at every size; rows sum to 1', () => {
    const { heap, kernels: k } = w;
    for (const cols of [...SIZES, 197]) {
      const rows = 3;
      const data = randomF32(rows * cols, cols, -20, 20);
      const X = heap.allocF32(data), R = heap.allocF32(data);
      k.softmax_rows(X, rows, cols, 0.125);
      k.softmax_rows_ref(R, rows, cols, 0.125);
      const x = heap.readF32(X, rows * cols), r = heap.readF32(R, rows * cols);
      expect(maxAbsDiff(x, r), `softmax cols=${cols}`).toBeLessThan(1e-6);
      for (let i = 0; i < rows; i++) {
        let s = 0;
        for (let j = 0; j < cols; j++) s += x[i * cols + j];
        expect(Math.abs(s - 1)).toBeLessThan(1e-5);
      }
    }
  });
  it('large logits do not overflow and tiny ones underflow to ~0', () => {
    const { heap, kernels: k } = w;
    const X = heap.allocF32([1000, 990, -1000, 0, 1000]);
    k.softmax_rows(X, 1, 5, 1);
    const x = heap.readF32(X, 5);
    expect(x[0]).toBeCloseTo(0.5 / (1 + Math.exp(-10) / 2), 6);
    expect(x[2]).toBeLessThan(1e-30);
    expect(x.every(Number.isFinite)).toBe(true);
  });
});

describe('residual_add and token_l2_norms', () => {
  it('vs ref, with and without layer scale', () => {
    const { heap, kernels: k } = w;
    for (const D of [...SIZES, 192]) {
      const rows = 3;
      const x0 = randomF32(rows * D, D), f = randomF32(rows * D, D + 1), g = randomF32(D, D + 2);
      const F = heap.allocF32(f), G = heap.allocF32(g);
      for (const gamma of [0, G]) {
        const X = heap.allocF32(x0), R = heap.allocF32(x0);
        k.residual_add(X, F, gamma, rows, D);
        k.residual_add_ref(R, F, gamma, rows, D);
        const x = heap.readF32(X, rows * D);
        expect(maxAbsDiff(x, heap.readF32(R, rows * D))).toBeLessThan(1e-6);
        const i = rows * D - 1;
        expect(x[i]).toBeCloseTo(x0[i] + (gamma ? g[D - 1] : 1) * f[i], 6);
      }
      const X = heap.allocF32(x0), O = heap.alloc(rows * 4), R = heap.alloc(rows * 4);
      k.token_l2_norms(O, X, rows, D);
      k.token_l2_norms_ref(R, X, rows, D);
      const r = heap.readF32(R, rows);
      expect(maxAbsDiff(heap.readF32(O, rows), r)).toBeLessThan(1e-5 * maxAbs(r));
      expect(r[0]).toBeCloseTo(Math.hypot(...x0.subarray(0, D)), 5);
    }
  });
});

function checkAttention(T: number, D: number, heads: number): void {
  const { heap, kernels: k } = w;
  const qkv = randomF32(T * 3 * D, T * 13 + D, -2, 2);
  const Q = heap.allocF32(qkv);
  const S = heap.alloc(k.attention_scratch_bytes(T, D, heads));
  const O = heap.alloc(T * D * 4), R = heap.alloc(T * D * 4);
  const P = heap.alloc(heads * T * T * 4), PR = heap.alloc(heads * T * T * 4);
  k.attention(O, Q, T, D, heads, S, P);
  k.attention_ref(R, Q, T, D, heads, S, PR);
  const r = heap.readF32(R, T * D);
  expect(maxAbsDiff(heap.readF32(O, T * D), r), `attention T=${T} D=${D} heads=${heads}`).toBeLessThan(2e-5 * Math.max(1, maxAbs(r)));
  const p = heap.readF32(P, heads * T * T);
  expect(maxAbsDiff(p, heap.readF32(PR, heads * T * T))).toBeLessThan(2e-6);
  for (let row = 0; row < heads * T; row++) {
    let s = 0;
    for (let j = 0; j < T; j++) s += p[row * T + j];
    expect(Math.abs(s - 1)).toBeLessThan(1e-5);
  }
  // without probabilities requested the output is the same
  const O2 = heap.alloc(T * D * 4);
  k.attention(O2, Q, T, D, heads, S, 0);
  expect(maxAbsDiff(heap.readF32(O2, T * D), heap.readF32(O, T * D))).toBe(0);
}

describe('attention vs attention_ref', () => {
  it('every tail size of T', () => {
    for (const T of SIZES) checkAttention(T, 48, 3);
  });
  it('head sizes with tails, and deit_tiny (T=197, D=192, 3 heads)', () => {
    checkAttention(17, 12, 4); // hd = 3
    checkAttention(33, 35, 5); // hd = 7
    checkAttention(197, 192, 3);
  });
});

describe('patch_im2col', () => {
  it('rows are patches in (c, y, x) order', () => {
    const { heap, kernels: k } = w;
    for (const [C, S, P] of [[3, 32, 8], [1, 28, 4], [3, 224, 16], [2, 6, 3]]) {
      const img = randomF32(C * S * S, S);
      const I = heap.allocF32(img);
      const G = S / P, L = C * P * P;
      const O = heap.alloc(G * G * L * 4);
      k.patch_im2col(O, I, C, S, P);
      const o = heap.readF32(O, G * G * L);
      let bad = 0;
      for (let gy = 0; gy < G; gy++) for (let gx = 0; gx < G; gx++) for (let c = 0; c < C; c++) for (let y = 0; y < P; y++) for (let x = 0; x < P; x++) {
        if (o[(gy * G + gx) * L + (c * P + y) * P + x] !== img[(c * S + gy * P + y) * S + gx * P + x]) bad++;
      }
      expect(bad).toBe(0);
    }
  });
});
