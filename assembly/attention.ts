// Multi-head self-attention of one sequence given packed qkv (T, 3D): columns [0, D) are q, [D, 2D) k, [2D, 3D) v,
// head h at columns h·hd .. (h+1)·hd within each (timm's qkv layout). out (T, D) = concat_h softmax(q_h k_hᵀ / √hd) v_h.

import { gemm_f32_nt } from './gemm_f32';
import { softmax_rows } from './norm';
import { transpose_f32 } from './memory';

/** Scratch bytes attention() needs: scores (T, T) + vᵀ (hd, T). */
export function attention_scratch_bytes(T: i32, D: i32, heads: i32): usize {
  const hd = D / heads;
  return (<usize>T * <usize>T + <usize>hd * <usize>T) << 2;
}

/**
 * out (T, D) = attention of qkv (T, 3D). scratch: attention_scratch_bytes(T, D, heads) bytes.
 * probs ≠ 0: the attention probabilities (heads, T, T) are written there (and used as the score buffer).
 */
export function attention(out: usize, qkv: usize, T: i32, D: i32, heads: i32, scratch: usize, probs: usize): void {
  const hd = D / heads;
  const ld = 3 * D;
  const scale: f32 = 1.0 / Mathf.sqrt(<f32>hd);
  const vT = scratch + (<usize>T * <usize>T << 2);
  for (let h = 0; h < heads; h++) {
    const S = probs != 0 ? probs + (<usize>h * <usize>T * <usize>T << 2) : scratch;
    const q = qkv + (<usize>(h * hd) << 2);
    const k = qkv + (<usize>(D + h * hd) << 2);
    const v = qkv + (<usize>(2 * D + h * hd) << 2);
    gemm_f32_nt(S, q, k, T, T, hd, ld, ld, T); // S (T, T) = q kᵀ
    softmax_rows(S, T, T, scale);
    transpose_f32(vT, v, T, hd, ld, T); // vT (hd, T)
    gemm_f32_nt(out + (<usize>(h * hd) << 2), S, vT, T, hd, T, T, T, D); // out_h (T, hd) = S v
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
