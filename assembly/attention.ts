// Multi-head self-attention of one sequence given packed qkv (T, 3D): columns [0, D) are q, [D, 2D) k, [2D, 3D) v,
// head h at columns h·hd .. (h+1)·hd within each (timm's qkv layout). out (T, D) = concat_h softmax(q_h k_hᵀ / √hd) v_h.
//
// Per head: attention_scores packs k_h into panels of 8 tokens and runs S = q kᵀ; attention_softmax leaves
// e = exp(scale·(S − max)) unnormalized and 1/Σe aside; attention_pv packs v_h into panels of 8 dims and runs
// (E v)·diag(1/Σe) (the normalisation costs T·hd multiplies there instead of a T² pass); attention_probs normalises
// E in place only where the probabilities are wanted. Both products are one outer-product kernel on packed B
// (gemm_f32_np). bench/attention.ts measures it against gemm_f32 in the same process (docs/attention.md).

import { softmax_core } from './norm';
import { madd4, storeLanes } from './memory';

// --- packed operands: B of both products in panels of 8 columns ------------------------------------------------

// @ts-ignore: decorator
@inline function pad8(n: i32): i32 {
  return (n + 7) & ~7;
}

/**
 * out (M, N; ldc) = A (M, K; lda) · B, B packed in panels of 8 columns (panel p: K rows of 8 floats, contiguous,
 * columns past N zero). Panel outer, rows inner: a panel (K·32 bytes) stays in L1 while A streams through it.
 * Register tile 4 rows × 8 columns (8 accumulators + 2 B vectors + 1 broadcast); the row tail one row at a time.
 * k runs in order for every output (mul+add on simd, relaxed_madd on relaxed). rs ≠ 0: row m of out is then multiplied
 * by rs[m] (f32), the softmax's 1/Σe folded into P·v.
 */
function gemm_f32_np(out: usize, a: usize, bp: usize, M: i32, N: i32, K: i32, lda: i32, ldc: i32, rs: usize): void {
  const aS = <usize>lda << 2, cS = <usize>ldc << 2;
  const panelBytes = <usize>K << 5;
  const M4 = M & ~3;
  for (let n0 = 0; n0 < N; n0 += 8) {
    const pb = bp + <usize>(n0 >> 3) * panelBytes;
    const nValid = N - n0;
    let m = 0;
    for (; m < M4; m += 4) {
      const a0 = a + <usize>m * aS;
      const a1 = a0 + aS, a2 = a1 + aS, a3 = a2 + aS;
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      let b = pb;
      for (let k = 0; k < K; k++) {
        const ko = <usize>k << 2;
        const b0 = v128.load(b), b1 = v128.load(b, 16);
        let x = v128.load32_splat(a0 + ko);
        c00 = madd4(x, b0, c00); c01 = madd4(x, b1, c01);
        x = v128.load32_splat(a1 + ko);
        c10 = madd4(x, b0, c10); c11 = madd4(x, b1, c11);
        x = v128.load32_splat(a2 + ko);
        c20 = madd4(x, b0, c20); c21 = madd4(x, b1, c21);
        x = v128.load32_splat(a3 + ko);
        c30 = madd4(x, b0, c30); c31 = madd4(x, b1, c31);
        b += 32;
      }
      const o = out + <usize>m * cS + (<usize>n0 << 2);
      if (rs != 0) {
        let r = f32x4.splat(load<f32>(rs + (<usize>m << 2)));
        c00 = f32x4.mul(c00, r); c01 = f32x4.mul(c01, r);
        r = f32x4.splat(load<f32>(rs + (<usize>(m + 1) << 2)));
        c10 = f32x4.mul(c10, r); c11 = f32x4.mul(c11, r);
        r = f32x4.splat(load<f32>(rs + (<usize>(m + 2) << 2)));
        c20 = f32x4.mul(c20, r); c21 = f32x4.mul(c21, r);
        r = f32x4.splat(load<f32>(rs + (<usize>(m + 3) << 2)));
        c30 = f32x4.mul(c30, r); c31 = f32x4.mul(c31, r);
      }
      store8(o, c00, c01, nValid);
      store8(o + cS, c10, c11, nValid);
      store8(o + 2 * cS, c20, c21, nValid);
      store8(o + 3 * cS, c30, c31, nValid);
    }
    for (; m < M; m++) {
      const a0 = a + <usize>m * aS;
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
      let b = pb;
      for (let k = 0; k < K; k++) {
        const x = v128.load32_splat(a0 + (<usize>k << 2));
        c00 = madd4(x, v128.load(b), c00); c01 = madd4(x, v128.load(b, 16), c01);
        b += 32;
      }
      if (rs != 0) {
        const r = f32x4.splat(load<f32>(rs + (<usize>m << 2)));
        c00 = f32x4.mul(c00, r); c01 = f32x4.mul(c01, r);
      }
      store8(out + <usize>m * cS + (<usize>n0 << 2), c00, c01, nValid);
    }
  }
}

/** The first min(8, n) floats of [y0, y1] at p. */
// @ts-ignore: decorator
@inline function store8(p: usize, y0: v128, y1: v128, n: i32): void {
  if (n >= 8) {
    v128.store(p, y0);
    v128.store(p, y1, 16);
  } else if (n >= 4) {
    v128.store(p, y0);
    if (n > 4) storeLanes(p + 16, y1, n - 4);
  } else {
    storeLanes(p, y0, n);
  }
}

/**
 * kp ← head h's k as B of q·kᵀ (B[d, j] = k[j, d]) in panels of 8 tokens: kp[p][d][c] = k[8p + c, d], tokens past T
 * zero. 4 tokens × 4 dims at a time through a 4 × 4 shuffle transpose; the tails scalar.
 */
function pack_k(kp: usize, k: usize, T: i32, hd: i32, ld: i32): void {
  const Tp = pad8(T), T4 = T & ~3, hd4 = hd & ~3;
  const ldb = <usize>ld << 2, panel = <usize>hd << 5;
  let j = 0;
  for (; j < T4; j += 4) {
    const r = k + <usize>j * ldb;
    const dst = kp + <usize>(j >> 3) * panel + (<usize>(j & 7) << 2);
    let d = 0;
    for (; d < hd4; d += 4) {
      const o = <usize>d << 2;
      const r0 = v128.load(r + o), r1 = v128.load(r + ldb + o), r2 = v128.load(r + 2 * ldb + o), r3 = v128.load(r + 3 * ldb + o);
      const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
      const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
      const q = dst + (<usize>d << 5);
      v128.store(q, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
      v128.store(q + 32, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
      v128.store(q + 64, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
      v128.store(q + 96, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
    }
    for (; d < hd; d++) {
      for (let t = 0; t < 4; t++) store<f32>(dst + (<usize>d << 5) + (<usize>t << 2), load<f32>(r + <usize>t * ldb + (<usize>d << 2)));
    }
  }
  for (; j < Tp; j++) {
    const dst = kp + <usize>(j >> 3) * panel + (<usize>(j & 7) << 2);
    for (let d = 0; d < hd; d++) store<f32>(dst + (<usize>d << 5), j < T ? load<f32>(k + <usize>j * ldb + (<usize>d << 2)) : 0);
  }
}

/** vp ← head h's v (B of P·v) in panels of 8 dims: vp[p][j][c] = v[j, 8p + c], dims past hd zero. */
function pack_v(vp: usize, v: usize, T: i32, hd: i32, ld: i32): void {
  const hd8 = hd & ~7;
  const ldb = <usize>ld << 2, panel = <usize>T << 5;
  for (let j = 0; j < T; j++) {
    const r = v + <usize>j * ldb;
    const dst = vp + (<usize>j << 5);
    let d = 0;
    for (; d < hd8; d += 8) {
      const q = dst + <usize>(d >> 3) * panel;
      v128.store(q, v128.load(r + (<usize>d << 2)));
      v128.store(q, v128.load(r + (<usize>d << 2), 16), 16);
    }
    if (d < hd) {
      const q = dst + <usize>(d >> 3) * panel;
      for (let c = 0; c < 8; c++) store<f32>(q + (<usize>c << 2), d + c < hd ? load<f32>(r + (<usize>(d + c) << 2)) : 0);
    }
  }
}

// The pack scratch the three per-head kernels share (attention_scratch_bytes − T² floats, 64-byte aligned parts):
//   1/Σe f32 (T) | k_h in panels of 8 tokens (Tp·hd floats) | v_h in panels of 8 dims (T·hdp floats)

// @ts-ignore: decorator
@inline function zinvBytes(T: i32): usize {
  return (<usize>T * 4 + 63) & ~(<usize>63);
}

// @ts-ignore: decorator
@inline function packBytes(T: i32, hd: i32): usize {
  return zinvBytes(T) + ((<usize>pad8(T) * <usize>hd + <usize>T * <usize>pad8(hd)) << 2);
}

/** Scratch bytes attention() needs: scores (T, T), then the pack scratch (1/Σe, k and v of one head in panels). */
export function attention_scratch_bytes(T: i32, D: i32, heads: i32): usize {
  return (<usize>T * <usize>T << 2) + packBytes(T, D / heads);
}

/**
 * Head h's scores S (T, T) = q_h k_hᵀ (unscaled; the softmax applies 1/√hd). pk: the pack scratch (k is packed
 * there, v by attention_pv). One head of attention() is attention_scores, attention_softmax, attention_pv (and
 * attention_probs where the probabilities are wanted): the engine calls them per head (profiled apart, heads split
 * across threads).
 */
export function attention_scores(S: usize, qkv: usize, pk: usize, T: i32, D: i32, heads: i32, h: i32): void {
  attention_scores_rows(S, qkv, pk, T, D, heads, h, 0, T);
}

// The _rows variants: query rows [r0, r1) of one head, so that threads can split a head (deit_tiny has 3 heads for 2
// threads). S, P and out are still the head's whole matrices; each call packs k_h / v_h whole into its own pack
// scratch. Every value is computed by the same operations as by the whole-head kernels (gemm_f32_np's outputs are
// each their own k-ordered sum; the softmax is per row), so a head split by rows gives the same bits.

/** Query rows [r0, r1) of attention_scores. */
export function attention_scores_rows(S: usize, qkv: usize, pk: usize, T: i32, D: i32, heads: i32, h: i32, r0: i32, r1: i32): void {
  const hd = D / heads;
  const ld = 3 * D;
  const kp = pk + zinvBytes(T);
  pack_k(kp, qkv + (<usize>(D + h * hd) << 2), T, hd, ld);
  gemm_f32_np(S + (<usize>r0 * <usize>T << 2), qkv + (<usize>(r0 * ld + h * hd) << 2), kp, r1 - r0, T, hd, ld, T, 0);
}

/**
 * In place, per row of S (T, T): e = exp(scale · (S − max)) left unnormalized, 1/Σe into the pack scratch, for
 * attention_pv to fold into its output: one pass over S fewer than softmax_rows. Same e and the same 1/Σe (the same
 * operations in the same order) as softmax_rows, so attention_probs afterwards gives softmax_rows' bits.
 */
export function attention_softmax(S: usize, pk: usize, T: i32, scale: f32): void {
  softmax_core(S, T, T, scale, pk);
}

/** Rows [r0, r1) of attention_softmax (their 1/Σe at the same places in pk). */
export function attention_softmax_rows(S: usize, pk: usize, T: i32, scale: f32, r0: i32, r1: i32): void {
  softmax_core(S + (<usize>r0 * <usize>T << 2), r1 - r0, T, scale, pk + (<usize>r0 << 2));
}

/**
 * Head h's output columns out[:, h·hd .. (h+1)·hd) (T rows of D) = (E (T, T) · v_h) · diag(1/Σe): E is
 * attention_softmax's unnormalized e, 1/Σe from the pack scratch pk.
 */
export function attention_pv(out: usize, P: usize, qkv: usize, pk: usize, T: i32, D: i32, heads: i32, h: i32): void {
  attention_pv_rows(out, P, qkv, pk, T, D, heads, h, 0, T);
}

/** Rows [r0, r1) of attention_pv. */
export function attention_pv_rows(out: usize, P: usize, qkv: usize, pk: usize, T: i32, D: i32, heads: i32, h: i32, r0: i32, r1: i32): void {
  const hd = D / heads;
  const vp = pk + zinvBytes(T) + (<usize>pad8(T) * <usize>hd << 2);
  pack_v(vp, qkv + (<usize>(2 * D + h * hd) << 2), T, hd, 3 * D);
  gemm_f32_np(out + (<usize>(r0 * D + h * hd) << 2), P + (<usize>r0 * <usize>T << 2), vp, r1 - r0, hd, T, T, D, pk + (<usize>r0 << 2));
}

/** In place after attention_pv: E (T, T) → the probabilities, row i × 1/Σe (softmax_rows' bits). */
export function attention_probs(P: usize, pk: usize, T: i32): void {
  attention_probs_rows(P, pk, T, 0, T);
}

/** Rows [r0, r1) of attention_probs. */
export function attention_probs_rows(P: usize, pk: usize, T: i32, r0: i32, r1: i32): void {
  const T4 = T & ~3;
  for (let i = r0; i < r1; i++) {
    const p = P + (<usize>i * <usize>T << 2);
    const invs = load<f32>(pk + (<usize>i << 2));
    const inv = f32x4.splat(invs);
    let j = 0;
    for (; j < T4; j += 4) v128.store(p + (<usize>j << 2), f32x4.mul(v128.load(p + (<usize>j << 2)), inv));
    for (; j < T; j++) store<f32>(p + (<usize>j << 2), load<f32>(p + (<usize>j << 2)) * invs);
  }
}

/**
 * out (T, D) = attention of qkv (T, 3D). scratch: attention_scratch_bytes(T, D, heads) bytes.
 * probs ≠ 0: the attention probabilities (heads, T, T) are written there (and used as the score buffer).
 */
export function attention(out: usize, qkv: usize, T: i32, D: i32, heads: i32, scratch: usize, probs: usize): void {
  const hd = D / heads;
  const scale: f32 = 1.0 / Mathf.sqrt(<f32>hd);
  const pk = scratch + (<usize>T * <usize>T << 2);
  for (let h = 0; h < heads; h++) {
    const S = probs != 0 ? probs + (<usize>h * <usize>T * <usize>T << 2) : scratch;
    attention_scores(S, qkv, pk, T, D, heads, h);
    attention_softmax(S, pk, T, scale);
    attention_pv(out, S, qkv, pk, T, D, heads, h);
    if (probs != 0) attention_probs(S, pk, T);
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
