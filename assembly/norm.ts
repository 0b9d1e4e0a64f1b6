// Row-wise and element-wise kernels: layernorm, exact GELU, softmax, residual add with layer scale, token L2 norms.
// Each has a scalar `_ref` twin computed in f64 with the textbook formula.

import { hsum } from './memory';

// --- vector math --------------------------------------------------------------------------------------------

/**
 * eˣ on four lanes (Cephes expf): x = n·ln2 + r, |r| ≤ ln2/2, degree-6 polynomial in r, times 2ⁿ built in the
 * exponent bits. Relative error ≈ 1e-7. Inputs are clamped to [−87.3, 88.3] (results stay normal, never Inf).
 * n is rounded with the 1.5·2²³ trick: t = x·log2e + (1.5·2²³ + 127) holds n + 127 in its low mantissa bits, so
 * t's bits shifted left by 23 are 2ⁿ (cheaper in V8 than nearest + trunc_sat). Finite inputs only (pmin/pmax).
 */
// @ts-ignore: decorator
@inline export function exp4(x: v128): v128 {
  x = f32x4.pmax(f32x4.pmin(x, f32x4.splat(88.3)), f32x4.splat(-87.3));
  const magic = f32x4.splat(12583039.0); // 1.5·2²³ + 127
  const t = f32x4.add(f32x4.mul(x, f32x4.splat(1.44269504088896341)), magic);
  const n = f32x4.sub(t, magic);
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.add(r, f32x4.mul(n, f32x4.splat(2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  const y = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1));
  return f32x4.mul(y, i32x4.shl(t, 23));
}

/**
 * 2^x on four lanes for x ≤ 0 (a softmax's exponent after the row max is subtracted, in log2 units): x = n + r with
 * n = nearest(x) by the 1.5·2²³ trick (t's low mantissa bits hold n + 127; shifted into the exponent field they are
 * 2ⁿ), r = x − n ∈ [−½, ½] exactly, 2^r by a degree-5 polynomial fitted for relative error (2.3e-7 measured in f32
 * over [−½, ½], exp4's accuracy). x is clamped at −125 (2ⁿ stays normal). No log2 e multiply (the caller folds it
 * into its scale) and no two-constant reduction: 8 fewer operations than exp4.
 */
// @ts-ignore: decorator
@inline export function exp2neg4(x: v128): v128 {
  x = f32x4.pmax(x, f32x4.splat(-125));
  const magic = f32x4.splat(12583039.0); // 1.5·2²³ + 127
  const t = f32x4.add(x, magic);
  const r = f32x4.sub(x, f32x4.sub(t, magic));
  let p = f32x4.add(f32x4.mul(f32x4.splat(0.001327647129073739), r), f32x4.splat(0.009675541892647743));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(0.05550713092088699));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(0.24022120237350464));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(0.6931469440460205));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0000001192092896));
  return f32x4.mul(p, i32x4.shl(t, 23));
}

/**
 * erf on four lanes: x·P(x²)/Q(x²) on x clamped to [−4, 4] (beyond that erf is ±1 in f32), a rational
 * minimax form (as in Eigen's float erf). Max |error| 4.2e-7 measured over [−6, 6] against an f64 series.
 */
// @ts-ignore: decorator
@inline export function erf4(x: v128): v128 {
  x = f32x4.pmax(f32x4.pmin(x, f32x4.splat(4)), f32x4.splat(-4));
  const x2 = f32x4.mul(x, x);
  let p = f32x4.splat(-2.72614225801306e-10);
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(2.77068142495902e-8));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-2.10102402082508e-6));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-5.69250639462346e-5));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-7.34990630326855e-4));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-2.95459980854025e-3));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-1.60960333262415e-2));
  p = f32x4.mul(p, x);
  let q = f32x4.splat(-1.45660718464996e-5);
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(-2.13374055278905e-4));
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(-1.68282697438203e-3));
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(-7.37332916720468e-3));
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(-1.42647390514189e-2));
  return f32x4.div(p, q);
}

/** erf in f64 by erfc's Chebyshev-fitted form (Numerical Recipes erfcc): relative error of erfc < 1.2e-7. */
export function erf_ref(x: f64): f64 {
  const z = Math.abs(x);
  const t = 1.0 / (1.0 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1.0 - r : r - 1.0;
}

// --- layernorm ----------------------------------------------------------------------------------------------

/** out (rows, D) = (x − mean) / sqrt(var + eps) · gamma + beta, per row of inp (rows, D). out may alias inp. */
export function layernorm(out: usize, inp: usize, gamma: usize, beta: usize, rows: i32, D: i32, eps: f32): void {
  const D4 = D & ~3;
  const invD: f32 = 1.0 / <f32>D;
  for (let r = 0; r < rows; r++) {
    const x = inp + (<usize>r * <usize>D << 2);
    const y = out + (<usize>r * <usize>D << 2);
    let acc = f32x4.splat(0);
    let i = 0;
    for (; i < D4; i += 4) acc = f32x4.add(acc, v128.load(x + (<usize>i << 2)));
    let s = hsum(acc);
    for (; i < D; i++) s += load<f32>(x + (<usize>i << 2));
    const mean = s * invD;
    const vm = f32x4.splat(mean);
    acc = f32x4.splat(0);
    for (i = 0; i < D4; i += 4) {
      const d = f32x4.sub(v128.load(x + (<usize>i << 2)), vm);
      acc = f32x4.add(acc, f32x4.mul(d, d));
    }
    let ss = hsum(acc);
    for (; i < D; i++) {
      const d = load<f32>(x + (<usize>i << 2)) - mean;
      ss += d * d;
    }
    const rstd: f32 = 1.0 / Mathf.sqrt(ss * invD + eps);
    const vr = f32x4.splat(rstd);
    for (i = 0; i < D4; i += 4) {
      const o = <usize>i << 2;
      const n = f32x4.mul(f32x4.sub(v128.load(x + o), vm), vr);
      v128.store(y + o, f32x4.add(f32x4.mul(n, v128.load(gamma + o)), v128.load(beta + o)));
    }
    for (; i < D; i++) {
      const o = <usize>i << 2;
      store<f32>(y + o, (load<f32>(x + o) - mean) * rstd * load<f32>(gamma + o) + load<f32>(beta + o));
    }
  }
}

export function layernorm_ref(out: usize, inp: usize, gamma: usize, beta: usize, rows: i32, D: i32, eps: f32): void {
  for (let r = 0; r < rows; r++) {
    const x = inp + (<usize>r * <usize>D << 2);
    const y = out + (<usize>r * <usize>D << 2);
    let s: f64 = 0;
    for (let i = 0; i < D; i++) s += <f64>load<f32>(x + (<usize>i << 2));
    const mean = s / <f64>D;
    let v: f64 = 0;
    for (let i = 0; i < D; i++) {
      const d = <f64>load<f32>(x + (<usize>i << 2)) - mean;
      v += d * d;
    }
    const rstd = 1.0 / Math.sqrt(v / <f64>D + <f64>eps);
    for (let i = 0; i < D; i++) {
      const o = <usize>i << 2;
      store<f32>(y + o, <f32>((<f64>load<f32>(x + o) - mean) * rstd * <f64>load<f32>(gamma + o) + <f64>load<f32>(beta + o)));
    }
  }
}

// --- GELU (exact, erf) --------------------------------------------------------------------------------------

/** out[n] = x · (1 + erf(x / √2)) / 2 for x = inp[n]. out may alias inp. */
export function gelu(out: usize, inp: usize, n: i32): void {
  const half = f32x4.splat(0.5);
  const one = f32x4.splat(1);
  const rsqrt2 = f32x4.splat(0.70710678118654752);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const x = v128.load(inp + o);
    v128.store(out + o, f32x4.mul(f32x4.mul(half, x), f32x4.add(one, erf4(f32x4.mul(x, rsqrt2)))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const x = f32x4.splat(load<f32>(inp + o));
    store<f32>(out + o, f32x4.extract_lane(f32x4.mul(f32x4.mul(half, x), f32x4.add(one, erf4(f32x4.mul(x, rsqrt2)))), 0));
  }
}

export function gelu_ref(out: usize, inp: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const x = <f64>load<f32>(inp + o);
    store<f32>(out + o, <f32>(0.5 * x * (1.0 + erf_ref(x * 0.70710678118654752))));
  }
}

// --- softmax ------------------------------------------------------------------------------------------------

/**
 * In place, per row of x (rows, cols): x = softmax(scale · x). scale > 0. e = 2^((x − max)·scale·log2 e) (exp2neg4;
 * the tail through the same function, one lane used), then one pass × 1/Σe.
 */
export function softmax_rows(x: usize, rows: i32, cols: i32, scale: f32): void {
  softmax_core(x, rows, cols, scale, 0);
}

/**
 * softmax_rows' body. zinv ≠ 0: the rows are left as e (unnormalized) and 1/Σe of row r goes to zinv[r] (f32): the
 * attention folds it into P·v (attention.ts attention_softmax). Either way e and Σe are the same bits.
 */
// @ts-ignore: decorator
@inline export function softmax_core(x: usize, rows: i32, cols: i32, scale: f32, zinv: usize): void {
  const c4 = cols & ~3;
  const vs = f32x4.splat(scale * <f32>1.44269504088896341);
  for (let r = 0; r < rows; r++) {
    const p = x + (<usize>r * <usize>cols << 2);
    let vmax = f32x4.splat(-Infinity);
    let i = 0;
    for (; i < c4; i += 4) vmax = f32x4.pmax(vmax, v128.load(p + (<usize>i << 2)));
    let m = max(max(f32x4.extract_lane(vmax, 0), f32x4.extract_lane(vmax, 1)), max(f32x4.extract_lane(vmax, 2), f32x4.extract_lane(vmax, 3)));
    for (; i < cols; i++) m = max(m, load<f32>(p + (<usize>i << 2)));
    const vm = f32x4.splat(m);
    let acc = f32x4.splat(0);
    for (i = 0; i < c4; i += 4) {
      const o = <usize>i << 2;
      const e = exp2neg4(f32x4.mul(f32x4.sub(v128.load(p + o), vm), vs));
      v128.store(p + o, e);
      acc = f32x4.add(acc, e);
    }
    let s = hsum(acc);
    for (; i < cols; i++) {
      const o = <usize>i << 2;
      const e = f32x4.extract_lane(exp2neg4(f32x4.mul(f32x4.splat(load<f32>(p + o) - m), vs)), 0);
      store<f32>(p + o, e);
      s += e;
    }
    const invs: f32 = <f32>1.0 / s;
    if (zinv != 0) {
      store<f32>(zinv + (<usize>r << 2), invs);
      continue;
    }
    const inv = f32x4.splat(invs);
    for (i = 0; i < c4; i += 4) {
      const o = <usize>i << 2;
      v128.store(p + o, f32x4.mul(v128.load(p + o), inv));
    }
    for (; i < cols; i++) {
      const o = <usize>i << 2;
      store<f32>(p + o, load<f32>(p + o) * invs);
    }
  }
}

export function softmax_rows_ref(x: usize, rows: i32, cols: i32, scale: f32): void {
  for (let r = 0; r < rows; r++) {
    const p = x + (<usize>r * <usize>cols << 2);
    let m: f64 = -Infinity;
    for (let i = 0; i < cols; i++) m = Math.max(m, <f64>load<f32>(p + (<usize>i << 2)));
    let s: f64 = 0;
    for (let i = 0; i < cols; i++) s += Math.exp((<f64>load<f32>(p + (<usize>i << 2)) - m) * <f64>scale);
    for (let i = 0; i < cols; i++) {
      const o = <usize>i << 2;
      store<f32>(p + o, <f32>(Math.exp((<f64>load<f32>(p + o) - m) * <f64>scale) / s));
    }
  }
}

// --- residual, norms ----------------------------------------------------------------------------------------

/** x (rows, D) += gamma (D) ⊙ f (rows, D); gamma = 0 (null pointer): x += f. */
export function residual_add(x: usize, f: usize, gamma: usize, rows: i32, D: i32): void {
  const D4 = D & ~3;
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * <usize>D << 2);
    const fr = f + (<usize>r * <usize>D << 2);
    let i = 0;
    if (gamma != 0) {
      for (; i < D4; i += 4) {
        const o = <usize>i << 2;
        v128.store(xr + o, f32x4.add(v128.load(xr + o), f32x4.mul(v128.load(gamma + o), v128.load(fr + o))));
      }
      for (; i < D; i++) {
        const o = <usize>i << 2;
        store<f32>(xr + o, load<f32>(xr + o) + load<f32>(gamma + o) * load<f32>(fr + o));
      }
    } else {
      for (; i < D4; i += 4) {
        const o = <usize>i << 2;
        v128.store(xr + o, f32x4.add(v128.load(xr + o), v128.load(fr + o)));
      }
      for (; i < D; i++) {
        const o = <usize>i << 2;
        store<f32>(xr + o, load<f32>(xr + o) + load<f32>(fr + o));
      }
    }
  }
}

export function residual_add_ref(x: usize, f: usize, gamma: usize, rows: i32, D: i32): void {
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < D; i++) {
      const o = (<usize>r * <usize>D + <usize>i) << 2;
      const g: f32 = gamma != 0 ? load<f32>(gamma + (<usize>i << 2)) : 1;
      store<f32>(x + o, load<f32>(x + o) + g * load<f32>(f + o));
    }
  }
}

/** out (rows) = ‖x[r, :]‖₂ for x (rows, D). */
export function token_l2_norms(out: usize, x: usize, rows: i32, D: i32): void {
  const D4 = D & ~3;
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * <usize>D << 2);
    let acc = f32x4.splat(0);
    let i = 0;
    for (; i < D4; i += 4) {
      const v = v128.load(xr + (<usize>i << 2));
      acc = f32x4.add(acc, f32x4.mul(v, v));
    }
    let s = hsum(acc);
    for (; i < D; i++) {
      const v = load<f32>(xr + (<usize>i << 2));
      s += v * v;
    }
    store<f32>(out + (<usize>r << 2), Mathf.sqrt(s));
  }
}

export function token_l2_norms_ref(out: usize, x: usize, rows: i32, D: i32): void {
  for (let r = 0; r < rows; r++) {
    let s: f64 = 0;
    for (let i = 0; i < D; i++) {
      const v = <f64>load<f32>(x + ((<usize>r * <usize>D + <usize>i) << 2));
      s += v * v;
    }
    store<f32>(out + (<usize>r << 2), <f32>Math.sqrt(s));
  }
}

/** out (D) = mean over rows of x (rows, D): float64 sums in row order, one rounding (the references' mean). */
export function mean_rows(out: usize, x: usize, rows: i32, D: i32): void {
  for (let d = 0; d < D; d++) {
    let s: f64 = 0;
    for (let r = 0; r < rows; r++) s += <f64>load<f32>(x + ((<usize>r * <usize>D + <usize>d) << 2));
    store<f32>(out + (<usize>d << 2), <f32>(s / <f64>rows));
  }
}
