// Multi-head self-attention of one sequence given packed qkv (T, 3D): columns [0, D) are q, [D, 2D) k, [2D, 3D) v,
// head h at columns h·hd .. (h+1)·hd within each (timm's qkv layout). out (T, D) = concat_h softmax(q_h k_hᵀ / √hd) v_h.

import { softmax_rows } from './norm';
import { madd4, storeLanes, transpose_f32 } from './memory';

// --- outer-product f32 GEMM for the two attention products -----------------------------------------------------

/**
 * out (M, N; ldc) = A (M, K; lda) · B (K, N; ldb), B row-major so each k reads B[k, n0 .. n0+8) contiguously and
 * broadcasts A[m, k]: no horizontal sums (the NT dot-product form needs one per output quad). Register tile 4 × 8
 * (8 accumulators + 2 B vectors + 1 broadcast = 11 v128); then 4-column and 1..3-column tails; M tail 1 row at a time.
 * Strides in elements. k runs in order for every output (mul+add on simd, relaxed_madd on relaxed).
 */
function gemm_f32_nn(out: usize, a: usize, b: usize, M: i32, N: i32, K: i32, lda: i32, ldb: i32, ldc: i32): void {
  const aS = <usize>lda << 2, bS = <usize>ldb << 2, cS = <usize>ldc << 2;
  const M4 = M & ~3;
  const N8 = N & ~7;
  const N4 = N & ~3;
  let m = 0;
  for (; m < M4; m += 4) {
    const a0 = a + <usize>m * aS;
    const a1 = a0 + aS, a2 = a1 + aS, a3 = a2 + aS;
    const o0 = out + <usize>m * cS;
    let n0 = 0;
    for (; n0 < N8; n0 += 8) {
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      let bp = b + (<usize>n0 << 2);
      for (let k = 0; k < K; k++) {
        const ko = <usize>k << 2;
        const b0 = v128.load(bp), b1 = v128.load(bp, 16);
        let x = v128.load32_splat(a0 + ko);
        c00 = madd4(x, b0, c00); c01 = madd4(x, b1, c01);
        x = v128.load32_splat(a1 + ko);
        c10 = madd4(x, b0, c10); c11 = madd4(x, b1, c11);
        x = v128.load32_splat(a2 + ko);
        c20 = madd4(x, b0, c20); c21 = madd4(x, b1, c21);
        x = v128.load32_splat(a3 + ko);
        c30 = madd4(x, b0, c30); c31 = madd4(x, b1, c31);
        bp += bS;
      }
      const o = o0 + (<usize>n0 << 2);
      v128.store(o, c00); v128.store(o, c01, 16);
      v128.store(o + cS, c10); v128.store(o + cS, c11, 16);
      v128.store(o + 2 * cS, c20); v128.store(o + 2 * cS, c21, 16);
      v128.store(o + 3 * cS, c30); v128.store(o + 3 * cS, c31, 16);
    }
    for (; n0 < N4; n0 += 4) {
      let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
      let bp = b + (<usize>n0 << 2);
      for (let k = 0; k < K; k++) {
        const ko = <usize>k << 2;
        const b0 = v128.load(bp);
        c0 = madd4(v128.load32_splat(a0 + ko), b0, c0); c1 = madd4(v128.load32_splat(a1 + ko), b0, c1);
        c2 = madd4(v128.load32_splat(a2 + ko), b0, c2); c3 = madd4(v128.load32_splat(a3 + ko), b0, c3);
        bp += bS;
      }
      const o = o0 + (<usize>n0 << 2);
      v128.store(o, c0); v128.store(o + cS, c1); v128.store(o + 2 * cS, c2); v128.store(o + 3 * cS, c3);
    }
    if (n0 < N) {
      // 1..3 columns: the rows of the tile as one vector per column (lane r = row m + r)
      for (let n = n0; n < N; n++) {
        let c = f32x4.splat(0);
        let bp = b + (<usize>n << 2);
        for (let k = 0; k < K; k++) {
          const ko = <usize>k << 2;
          let x = f32x4.splat(load<f32>(a0 + ko));
          x = f32x4.replace_lane(x, 1, load<f32>(a1 + ko));
          x = f32x4.replace_lane(x, 2, load<f32>(a2 + ko));
          x = f32x4.replace_lane(x, 3, load<f32>(a3 + ko));
          c = madd4(x, v128.load32_splat(bp), c);
          bp += bS;
        }
        const o = o0 + (<usize>n << 2);
        store<f32>(o, f32x4.extract_lane(c, 0)); store<f32>(o + cS, f32x4.extract_lane(c, 1));
        store<f32>(o + 2 * cS, f32x4.extract_lane(c, 2)); store<f32>(o + 3 * cS, f32x4.extract_lane(c, 3));
      }
    }
  }
  for (; m < M; m++) {
    const a0 = a + <usize>m * aS;
    const o0 = out + <usize>m * cS;
    for (let n0 = 0; n0 < N; n0 += 4) {
      const nValid = min(4, N - n0);
      let c = f32x4.splat(0);
      let bp = b + (<usize>n0 << 2);
      for (let k = 0; k < K; k++) {
        let bv: v128;
        if (nValid == 4) bv = v128.load(bp);
        else {
          bv = f32x4.splat(load<f32>(bp));
          if (nValid > 1) bv = f32x4.replace_lane(bv, 1, load<f32>(bp, 4));
          if (nValid > 2) bv = f32x4.replace_lane(bv, 2, load<f32>(bp, 8));
        }
        c = madd4(v128.load32_splat(a0 + (<usize>k << 2)), bv, c);
        bp += bS;
      }
      storeLanes(o0 + (<usize>n0 << 2), c, nValid);
    }
  }
}

/** Scratch bytes attention() needs: scores (T, T) + kᵀ (hd, T). */
export function attention_scratch_bytes(T: i32, D: i32, heads: i32): usize {
  const hd = D / heads;
  return (<usize>T * <usize>T + <usize>hd * <usize>T) << 2;
}

/**
 * Head h's scores S (T, T) = q_h k_hᵀ (unscaled; softmax_rows applies 1/√hd). kT: hd·T floats of scratch.
 * With attention_pv and softmax_rows between them, one head of attention(): the engine calls the three per head
 * (profiled apart, heads split across threads).
 */
export function attention_scores(S: usize, qkv: usize, kT: usize, T: i32, D: i32, heads: i32, h: i32): void {
  const hd = D / heads;
  const ld = 3 * D;
  transpose_f32(kT, qkv + (<usize>(D + h * hd) << 2), T, hd, ld, T); // kT (hd, T)
  gemm_f32_nn(S, qkv + (<usize>(h * hd) << 2), kT, T, T, hd, ld, T, T);
}

/** Head h's output columns out[:, h·hd .. (h+1)·hd) (T rows of D) = P (T, T) · v_h. */
export function attention_pv(out: usize, P: usize, qkv: usize, T: i32, D: i32, heads: i32, h: i32): void {
  const hd = D / heads;
  gemm_f32_nn(out + (<usize>(h * hd) << 2), P, qkv + (<usize>(2 * D + h * hd) << 2), T, hd, T, T, 3 * D, D);
}

/**
 * out (T, D) = attention of qkv (T, 3D). scratch: attention_scratch_bytes(T, D, heads) bytes.
 * probs ≠ 0: the attention probabilities (heads, T, T) are written there (and used as the score buffer).
 */
export function attention(out: usize, qkv: usize, T: i32, D: i32, heads: i32, scratch: usize, probs: usize): void {
  const hd = D / heads;
  const scale: f32 = 1.0 / Mathf.sqrt(<f32>hd);
  const kT = scratch + (<usize>T * <usize>T << 2);
  for (let h = 0; h < heads; h++) {
    const S = probs != 0 ? probs + (<usize>h * <usize>T * <usize>T << 2) : scratch;
    attention_scores(S, qkv, kT, T, D, heads, h);
    softmax_rows(S, T, T, scale);
    attention_pv(out, S, qkv, T, D, heads, h);
  }
}

/** Scalar twin: f64 dot products and softmax; scratch needs T floats. */
export function attention_ref(out: usize, qkv: usize, T: i32, D: i32, heads: i32, scratch: usize, probs: usize): void {
  const hd = D / heads;
  const ld = 3 * D;
  const scale = 1.0 / Math.sqrt(<f64>hd);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < T; i++) {
      let m: f64 = -Infinity;
      for (let j = 0; j < T; j++) {
        let s: f64 = 0;
        for (let d = 0; d < hd; d++) {
          s += <f64>load<f32>(qkv + ((<usize>i * <usize>ld + <usize>(h * hd + d)) << 2)) *
            <f64>load<f32>(qkv + ((<usize>j * <usize>ld + <usize>(D + h * hd + d)) << 2));
        }
        s *= scale;
        store<f32>(scratch + (<usize>j << 2), <f32>s);
        m = Math.max(m, s);
      }
      let z: f64 = 0;
      for (let j = 0; j < T; j++) z += Math.exp(<f64>load<f32>(scratch + (<usize>j << 2)) - m);
      for (let j = 0; j < T; j++) {
        const p = Math.exp(<f64>load<f32>(scratch + (<usize>j << 2)) - m) / z;
        store<f32>(scratch + (<usize>j << 2), <f32>p);
        if (probs != 0) store<f32>(probs + ((<usize>(h * T + i) * <usize>T + <usize>j) << 2), <f32>p);
      }
      for (let d = 0; d < hd; d++) {
        let s: f64 = 0;
        for (let j = 0; j < T; j++) {
          s += <f64>load<f32>(scratch + (<usize>j << 2)) * <f64>load<f32>(qkv + ((<usize>j * <usize>ld + <usize>(2 * D + h * hd + d)) << 2));
        }
        store<f32>(out + ((<usize>i * <usize>D + <usize>(h * hd + d)) << 2), <f32>s);
      }
    }
  }
}
