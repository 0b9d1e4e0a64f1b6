// int8 attention of one head of one sequence, on the integer dot kernels (the attention of the quantized schemes with
// EngineOptions.attention = 'int8'). qkv (T, 3D) f32 as the qkv GEMM writes it (timm's layout: q, k, v column blocks
// of D, head h at columns h·hd .. (h+1)·hd of each); out (T, D) f32, head h written at columns h·hd .. (h+1)·hd.
//
// The math (every step is the same in the fast kernels, their scalar `_ref` twins and both builds, bit for bit):
//   quant   per token j and each of q, k, v (symmetric over the head's hd values):
//             s = max|x| > 0 ? max|x| / 127 : 1;   u = max|x| > 0 ? 127 / max|x| : 0;   x̂ = i32(clamp(nearest(x · u), −127, 127))
//           (a multiply by u where quantize_act_rows divides by s: |x·u| ≤ 127 all the same, and no division per value)
//   qk      S[i,j] = (f32(Σ_d q̂[i,d]·k̂[j,d]) · s_k[j]) · (s_q[i] · (scale · log2 e))   scale = 1/√hd
//   softmax m_i = max_j S[i,j];  e[i,j] = 2^(S[i,j] − m_i) (exp2v below: S is in log2 units);  z_i = Σ_j e[i,j]
//           P'[i,j] = e[i,j] · s_v[j]   (v's per-token scale folded into the probabilities: P·v reduces over tokens)
//           M_i = max_j P'[i,j];  u_i = min(255 / M_i, f32 max) (0 when M_i = 0)
//           p̂[i,j] = i32(clamp(nearest(P'[i,j] · u_i), 0, 255));  r_i = (M_i / 255) / z_i
//   pv      out[i,d] = f32(Σ_j p̂[i,j]·v̂[j,d]) · r_i
// P' ≥ 0, so it is quantized unsigned to 0..255: twice the resolution of a signed int8 grid at no cost (the operands
// are i16 in registers, i32x4.dot_i16x8_s: 255·127·2 fits its i32 pair sums). The normalisation 1/z never touches the
// integers: it lands in r_i with the row scale (the row max of P' gets code 255 whatever z is).
// Why not relaxed_dot_i8x16_i7x16: its second operand must be 0..127 (FACTS.md); q and k are signed on both sides,
// and p̂ would lose a bit. dot_i16x8_s on i16-widened operands gives the same integers on both builds.
//
// Scratch (attention_q8_scratch_bytes(T, hd), one per thread), Tp = T and hdp = hd rounded up to 8, each part
// 64-byte aligned:
//   q̂  i16 (Tp, hdp) rows                         s_q f32 (Tp)
//   k̂  i16 panels of 8 tokens (like gemm_q8's weight panels, "c2" order): Tp/8 × hdp/2 × [c0d c0d+1 c1d c1d+1 .. c7]
//   s_k f32 (Tp)                                   v̂  i16 panels of 8 head dims: hdp/8 × Tp/2 × [c0j c0j+1 .. c7j+1]
//   s_v f32 (Tp)                                   S  f32 (T, Tp): the scores; p̂ overwrites each row's first half
//   r   f32 (Tp)                                   (i16 (T, 2·Tp): row i of p̂ starts where row i of S starts)
// Padding tokens (T .. Tp) have k̂ = v̂ = 0, s_k = s_v = 0 and p̂ = 0; padding dims (hd .. hdp) are 0.
// No static memory: threads sharing one memory each pass their own scratch.

import { storeLanes } from './memory';


const QMAX: f32 = 127;
const PMAX: f32 = 255;

// @ts-ignore: decorator
@inline function pad8(n: i32): i32 {
  return (n + 7) & ~7;
}

// @ts-ignore: decorator
@inline function al64(n: usize): usize {
  return (n + 63) & ~(<usize>63);
}

// --- scratch layout ----------------------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function offQ(): usize { return 0; }
// @ts-ignore: decorator
@inline function offSQ(T: i32, hd: i32): usize { return al64(<usize>pad8(T) * <usize>pad8(hd) * 2); }
// @ts-ignore: decorator
@inline function offK(T: i32, hd: i32): usize { return offSQ(T, hd) + al64(<usize>pad8(T) * 4); }
// @ts-ignore: decorator
@inline function offSK(T: i32, hd: i32): usize { return offK(T, hd) + al64(<usize>pad8(T) * <usize>pad8(hd) * 2); }
// @ts-ignore: decorator
@inline function offV(T: i32, hd: i32): usize { return offSK(T, hd) + al64(<usize>pad8(T) * 4); }
// @ts-ignore: decorator
@inline function offSV(T: i32, hd: i32): usize { return offV(T, hd) + al64(<usize>pad8(T) * <usize>pad8(hd) * 2); }
// @ts-ignore: decorator
@inline function offS(T: i32, hd: i32): usize { return offSV(T, hd) + al64(<usize>pad8(T) * 4); }
// @ts-ignore: decorator
@inline function offR(T: i32, hd: i32): usize { return offS(T, hd) + al64(<usize>T * <usize>pad8(T) * 4); }

/** Scratch bytes of one head's int8 attention (one buffer per thread, reused for every head and layer). */
export function attention_q8_scratch_bytes(T: i32, hd: i32): usize {
  return offR(T, hd) + al64(<usize>pad8(T) * 4);
}

/** Byte offset, within the k̂ panels, of k̂[j, d]. */
// @ts-ignore: decorator
@inline function kAt(j: i32, d: i32, hdp: i32): usize {
  return <usize>(j >> 3) * <usize>hdp * 16 + <usize>(d >> 1) * 32 + <usize>(j & 7) * 4 + <usize>(d & 1) * 2;
}

/** Byte offset, within the v̂ panels, of v̂[j, d]. */
// @ts-ignore: decorator
@inline function vAt(j: i32, d: i32, Tp: i32): usize {
  return <usize>(d >> 3) * <usize>Tp * 16 + <usize>(j >> 1) * 32 + <usize>(d & 7) * 4 + <usize>(j & 1) * 2;
}

// 2^x for x ≤ 0 (the softmax's exponent after the row max is subtracted): x = n + r, n = nearest(x) by the
// 1.5·2²³ trick (t's low mantissa bits hold n + 127, shifted into the exponent field they are 2ⁿ), r ∈ [−½, ½] exact,
// 2^r by a degree-4 polynomial fitted for relative error (2.7e-6 measured over [−½, ½] in f32: far below the 1/510
// of a p̂ step). x is clamped at −125 (2ⁿ stays normal); 2^−125 is 0 in p̂ anyway. Cheaper than exp4 (norm.ts): no
// log2 e multiply, no two-constant reduction, two fewer polynomial terms.
const LOG2E: f32 = 1.44269504088896341;
const X2_MAGIC: f32 = 12583039.0; // 1.5·2²³ + 127
const C0: f32 = 0.9999992847442627, C1: f32 = 0.6931217908859253, C2: f32 = 0.240247443318367;
const C3: f32 = 0.05591786280274391, C4: f32 = 0.009570101276040077;

// @ts-ignore: decorator
@inline function exp2v(x: v128): v128 {
  x = f32x4.pmax(x, f32x4.splat(-125));
  const t = f32x4.add(x, f32x4.splat(X2_MAGIC));
  const r = f32x4.sub(x, f32x4.sub(t, f32x4.splat(X2_MAGIC)));
  let p = f32x4.add(f32x4.mul(f32x4.splat(C4), r), f32x4.splat(C3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(C2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(C1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(C0));
  return f32x4.mul(p, i32x4.shl(t, 23));
}

/** Scalar twin of exp2v, operation for operation (so the `_ref` kernels match the fast ones bit for bit). */
// @ts-ignore: decorator
@inline function exp2s(x: f32): f32 {
  x = max<f32>(x, -125);
  const t: f32 = x + X2_MAGIC;
  const r: f32 = x - (t - X2_MAGIC);
  let p: f32 = C4 * r + C3;
  p = p * r + C2;
  p = p * r + C1;
  p = p * r + C0;
  return p * reinterpret<f32>(reinterpret<i32>(t) << 23);
}

/** p̂'s quantization multiplier 255 / M, finite (a row whose P' max is tiny gets codes 0, its output ≈ 0 anyway). */
// @ts-ignore: decorator
@inline function pScale(M: f32): f32 {
  return M > 0 ? min<f32>(PMAX / M, F32.MAX_VALUE) : 0;
}

const R_MAGIC: f32 = 12582912.0; // 1.5·2²³: x + R_MAGIC rounds |x| < 2²² to the nearest integer (ties even) in its low bits

// --- quantization of q, k, v ---------------------------------------------------------------------------------------

/** max |x| over n floats at p (4 lanes, then the tail; max is exact, so any order gives the same value). */
// @ts-ignore: decorator
@inline function maxAbsRow(p: usize, n: i32): f32 {
  const n4 = n & ~3;
  let vm = f32x4.splat(0);
  let i = 0;
  for (; i < n4; i += 4) vm = f32x4.pmax(vm, f32x4.abs(v128.load(p + (<usize>i << 2))));
  let m: f32 = max(max(f32x4.extract_lane(vm, 0), f32x4.extract_lane(vm, 1)), max(f32x4.extract_lane(vm, 2), f32x4.extract_lane(vm, 3)));
  for (; i < n; i++) m = max(m, abs<f32>(load<f32>(p + (<usize>i << 2))));
  return m;
}

// @ts-ignore: decorator
@inline function quant1(x: f32, u: f32): i32 {
  return <i32>min<f32>(max<f32>(nearest<f32>(x * u), -QMAX), QMAX);
}

/**
 * Four codes of x · u as i32: rounded by adding 1.5·2²³ (the integer lands in the low mantissa bits, ties to even)
 * and subtracting the constant's bits; |x·u| ≤ 127 by construction of u, so no clamp: quant1's value.
 */
// @ts-ignore: decorator
@inline function quant4(x: v128, vu: v128): v128 {
  return i32x4.sub(f32x4.add(f32x4.mul(x, vu), f32x4.splat(R_MAGIC)), f32x4.splat(R_MAGIC));
}

/** Eight codes x̂[d .. d+8) of the row at p as i16x8. */
// @ts-ignore: decorator
@inline function quant8(p: usize, vu: v128): v128 {
  return i16x8.narrow_i32x4_s(quant4(v128.load(p), vu), quant4(v128.load(p, 16), vu));
}

/** max|x| of one token's hd values at p → its scale (max|x| / 127, 1 for an all-zero row) stored at sp; returns u. */
// @ts-ignore: decorator
@inline function rowScale(p: usize, hd: i32, sp: usize): f32 {
  const mx = maxAbsRow(p, hd);
  store<f32>(sp, mx > 0 ? mx / QMAX : 1);
  return mx > 0 ? QMAX / mx : 0;
}

/**
 * Quantize head h of qkv (T, 3D) into the scratch: q̂ rows, k̂ and v̂ panels, their per-token scales. Codes are made
 * 8 at a time and scattered into the panels with lane stores; a head size that is not a multiple of 8 ends scalar.
 */
export function attention_q8_quant(scratch: usize, qkv: usize, T: i32, D: i32, heads: i32, h: i32): void {
  const hd = D / heads, hdp = pad8(hd), Tp = pad8(T);
  const hd8 = hd & ~7;
  const ld = <usize>(3 * D) << 2;
  const qq = scratch + offQ(), sq = scratch + offSQ(T, hd);
  const kp = scratch + offK(T, hd), sk = scratch + offSK(T, hd);
  const vp = scratch + offV(T, hd), sv = scratch + offSV(T, hd);
  for (let j = 0; j < T; j++) {
    const pq = qkv + <usize>j * ld + (<usize>(h * hd) << 2);
    const pk = pq + (<usize>D << 2), pv = pk + (<usize>D << 2);
    // q̂ row j
    let s = rowScale(pq, hd, sq + (<usize>j << 2)); // s: u, the multiplier
    let vs = f32x4.splat(s);
    const dq = qq + <usize>j * <usize>hdp * 2;
    let d = 0;
    for (; d < hd8; d += 8) v128.store(dq + (<usize>d << 1), quant8(pq + (<usize>d << 2), vs));
    for (; d < hd; d++) store<i16>(dq + (<usize>d << 1), <i16>quant1(load<f32>(pq + (<usize>d << 2)), s));
    for (; d < hdp; d++) store<i16>(dq + (<usize>d << 1), 0);
    // k̂ token j: column j & 7 of panel j >> 3, one i32 (a pair of d) per 32-byte step
    s = rowScale(pk, hd, sk + (<usize>j << 2));
    vs = f32x4.splat(s);
    const dk = kp + kAt(j, 0, hdp);
    for (d = 0; d < hd8; d += 8) {
      const c = quant8(pk + (<usize>d << 2), vs);
      const o = dk + (<usize>d << 4); // (d / 2) · 32
      v128.store32_lane(o, c, 0); v128.store32_lane(o + 32, c, 1);
      v128.store32_lane(o + 64, c, 2); v128.store32_lane(o + 96, c, 3);
    }
    for (; d < hd; d++) store<i16>(kp + kAt(j, d, hdp), <i16>quant1(load<f32>(pk + (<usize>d << 2)), s));
    for (; d < hdp; d++) store<i16>(kp + kAt(j, d, hdp), 0);
    // v̂ token j: row pair j >> 1, half j & 1 of every column d & 7 of panel d >> 3
    s = rowScale(pv, hd, sv + (<usize>j << 2));
    vs = f32x4.splat(s);
    for (d = 0; d < hd8; d += 8) {
      const c = quant8(pv + (<usize>d << 2), vs);
      const o = vp + vAt(j, d, Tp);
      v128.store16_lane(o, c, 0); v128.store16_lane(o + 4, c, 1); v128.store16_lane(o + 8, c, 2); v128.store16_lane(o + 12, c, 3);
      v128.store16_lane(o + 16, c, 4); v128.store16_lane(o + 20, c, 5); v128.store16_lane(o + 24, c, 6); v128.store16_lane(o + 28, c, 7);
    }
    for (; d < hd; d++) store<i16>(vp + vAt(j, d, Tp), <i16>quant1(load<f32>(pv + (<usize>d << 2)), s));
    for (; d < hdp; d++) store<i16>(vp + vAt(j, d, Tp), 0);
  }
  // padding tokens T .. Tp: zero codes and scales (q̂ rows past T are never read)
  for (let j = T; j < Tp; j++) {
    store<f32>(sq + (<usize>j << 2), 0);
    store<f32>(sk + (<usize>j << 2), 0);
    store<f32>(sv + (<usize>j << 2), 0);
    for (let d = 0; d < hdp; d++) {
      store<i16>(qq + (<usize>(j * hdp + d) << 1), 0);
      store<i16>(kp + kAt(j, d, hdp), 0);
      store<i16>(vp + vAt(j, d, Tp), 0);
    }
  }
}

export function attention_q8_quant_ref(scratch: usize, qkv: usize, T: i32, D: i32, heads: i32, h: i32): void {
  const hd = D / heads, hdp = pad8(hd), Tp = pad8(T);
  const qq = scratch + offQ(), kp = scratch + offK(T, hd), vp = scratch + offV(T, hd);
  for (let j = 0; j < Tp; j++) {
    for (let w = 0; w < 3; w++) {
      const x = qkv + ((<usize>j * <usize>(3 * D) + <usize>(w * D + h * hd)) << 2); // read only for j < T
      let mx: f32 = 0;
      if (j < T) for (let d = 0; d < hd; d++) mx = max(mx, abs<f32>(load<f32>(x + (<usize>d << 2))));
      const s: f32 = j >= T ? 0 : mx > 0 ? mx / QMAX : 1;
      const u: f32 = mx > 0 ? QMAX / mx : 0;
      const scales = w == 0 ? scratch + offSQ(T, hd) : w == 1 ? scratch + offSK(T, hd) : scratch + offSV(T, hd);
      store<f32>(scales + (<usize>j << 2), s);
      for (let d = 0; d < hdp; d++) {
        const c: i32 = j < T && d < hd ? quant1(load<f32>(x + (<usize>d << 2)), u) : 0;
        if (w == 0) store<i16>(qq + (<usize>(j * hdp + d) << 1), <i16>c);
        else if (w == 1) store<i16>(kp + kAt(j, d, hdp), <i16>c);
        else store<i16>(vp + vAt(j, d, Tp), <i16>c);
      }
    }
  }
}

// --- S = q̂ k̂ᵀ, dequantized and scaled -----------------------------------------------------------------------------

/**
 * S (T, Tp) f32 of the scratch ← (f32(q̂ k̂ᵀ) · s_k[j]) · (s_q[i] · (scale · log2 e)): the scores in log2 units, for
 * the softmax's 2^x. scale = 1/√hd. Register tile 4 rows × 8 tokens (one k̂
 * panel, 8 i32x4 accumulators), as gemm_q8; the row tail one row at a time. Padding columns come out 0 (s_k = 0).
 */
export function attention_q8_qk(scratch: usize, T: i32, hd: i32, scale: f32): void {
  const hdp = pad8(hd), Tp = pad8(T);
  const qq = scratch + offQ(), sq = scratch + offSQ(T, hd);
  const kp = scratch + offK(T, hd), sk = scratch + offSK(T, hd);
  const S = scratch + offS(T, hd);
  const sl: f32 = scale * LOG2E;
  const lda = <usize>hdp * 2, ldo = <usize>Tp * 4;
  const panelBytes = <usize>hdp * 16;
  const steps = hdp >> 1;
  const T4 = T & ~3;
  for (let pi = 0; pi < (Tp >> 3); pi++) {
    const pp = kp + <usize>pi * panelBytes;
    const sk0 = v128.load(sk + (<usize>pi << 5)), sk1 = v128.load(sk + (<usize>pi << 5), 16);
    let i = 0;
    for (; i < T4; i += 4) {
      let a0 = qq + <usize>i * lda;
      let a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
      let wp = pp;
      let c00 = i32x4.splat(0), c01 = i32x4.splat(0), c10 = i32x4.splat(0), c11 = i32x4.splat(0);
      let c20 = i32x4.splat(0), c21 = i32x4.splat(0), c30 = i32x4.splat(0), c31 = i32x4.splat(0);
      for (let s = 0; s < steps; s++) {
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
      const o = S + <usize>i * ldo + (<usize>pi << 5);
      let a = f32x4.splat(load<f32>(sq + (<usize>i << 2)) * sl);
      v128.store(o, qkOut(c00, sk0, a)); v128.store(o, qkOut(c01, sk1, a), 16);
      a = f32x4.splat(load<f32>(sq + (<usize>(i + 1) << 2)) * sl);
      v128.store(o + ldo, qkOut(c10, sk0, a)); v128.store(o + ldo, qkOut(c11, sk1, a), 16);
      a = f32x4.splat(load<f32>(sq + (<usize>(i + 2) << 2)) * sl);
      v128.store(o + 2 * ldo, qkOut(c20, sk0, a)); v128.store(o + 2 * ldo, qkOut(c21, sk1, a), 16);
      a = f32x4.splat(load<f32>(sq + (<usize>(i + 3) << 2)) * sl);
      v128.store(o + 3 * ldo, qkOut(c30, sk0, a)); v128.store(o + 3 * ldo, qkOut(c31, sk1, a), 16);
    }
    for (; i < T; i++) {
      let a0 = qq + <usize>i * lda;
      let wp = pp;
      let c00 = i32x4.splat(0), c01 = i32x4.splat(0);
      for (let s = 0; s < steps; s++) {
        const x0 = v128.load32_splat(a0);
        c00 = i32x4.add(c00, i32x4.dot_i16x8_s(x0, v128.load(wp)));
        c01 = i32x4.add(c01, i32x4.dot_i16x8_s(x0, v128.load(wp, 16)));
        wp += 32; a0 += 4;
      }
      const o = S + <usize>i * ldo + (<usize>pi << 5);
      const a = f32x4.splat(load<f32>(sq + (<usize>i << 2)) * sl);
      v128.store(o, qkOut(c00, sk0, a)); v128.store(o, qkOut(c01, sk1, a), 16);
    }
  }
}

// @ts-ignore: decorator
@inline function qkOut(acc: v128, sk: v128, a: v128): v128 {
  return f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(acc), sk), a);
}

export function attention_q8_qk_ref(scratch: usize, T: i32, hd: i32, scale: f32): void {
  const hdp = pad8(hd), Tp = pad8(T);
  const qq = scratch + offQ(), sq = scratch + offSQ(T, hd);
  const kp = scratch + offK(T, hd), sk = scratch + offSK(T, hd);
  const S = scratch + offS(T, hd);
  const sl: f32 = scale * LOG2E;
  for (let i = 0; i < T; i++) {
    const a: f32 = load<f32>(sq + (<usize>i << 2)) * sl;
    for (let j = 0; j < Tp; j++) {
      let acc = 0;
      for (let d = 0; d < hd; d++) {
        acc += <i32>load<i16>(qq + (<usize>(i * hdp + d) << 1)) * <i32>load<i16>(kp + kAt(j, d, hdp));
      }
      store<f32>(S + (<usize>(i * Tp + j) << 2), <f32>acc * load<f32>(sk + (<usize>j << 2)) * a);
    }
  }
}

// --- softmax and the quantization of P' = P · diag(s_v) -----------------------------------------------------------

/**
 * Per row i of S: e = 2^(S − max), z = Σ e, P' = e · s_v, p̂ = P' on 0..255 per row, r_i = (max P' / 255) / z.
 * p̂ row i (i16, Tp values, padding 0) overwrites the first half of S row i. probs ≠ 0: the f32 probabilities e / z
 * (T, T) are written there too (what ForwardOptions.attention returns).
 * Three passes over the row (it sits in L1): max; e, z, P' and its max; p̂. p̂ is rounded by adding 1.5·2²³ (its
 * low 16 bits are then the code: no clamp, no float→int conversion, one byte shuffle per 8 codes); P'·u ≤ 255 by
 * construction, so the result is the ref's clamp(nearest(P'·u), 0, 255).
 */
export function attention_q8_softmax(scratch: usize, T: i32, hd: i32, probs: usize): void {
  const Tp = pad8(T);
  const S = scratch + offS(T, hd), sv = scratch + offSV(T, hd), rr = scratch + offR(T, hd);
  const ldo = <usize>Tp * 4;
  const T4 = T & ~3;
  const T8 = T & ~7;
  for (let i = 0; i < T; i++) {
    const p = S + <usize>i * ldo;
    const pr = probs + (<usize>i * <usize>T << 2);
    // row max (exact in any order)
    let vmax = f32x4.splat(-Infinity);
    let j = 0;
    for (; j < T4; j += 4) vmax = f32x4.pmax(vmax, v128.load(p + (<usize>j << 2)));
    let m = max(max(f32x4.extract_lane(vmax, 0), f32x4.extract_lane(vmax, 1)), max(f32x4.extract_lane(vmax, 2), f32x4.extract_lane(vmax, 3)));
    for (; j < T; j++) m = max(m, load<f32>(p + (<usize>j << 2)));
    // e, z (4 lane sums, then (l0 + l2) + (l1 + l3), then the tail), P' = e · s_v in place, its row max
    const vm = f32x4.splat(m);
    let acc = f32x4.splat(0), pm = f32x4.splat(0);
    if (probs == 0) {
      for (j = 0; j < T4; j += 4) {
        const o = <usize>j << 2;
        const e = exp2v(f32x4.sub(v128.load(p + o), vm));
        acc = f32x4.add(acc, e);
        const q = f32x4.mul(e, v128.load(sv + o));
        pm = f32x4.pmax(pm, q);
        v128.store(p + o, q);
      }
    } else {
      for (j = 0; j < T4; j += 4) {
        const o = <usize>j << 2;
        const e = exp2v(f32x4.sub(v128.load(p + o), vm));
        acc = f32x4.add(acc, e);
        const q = f32x4.mul(e, v128.load(sv + o));
        pm = f32x4.pmax(pm, q);
        v128.store(p + o, q);
        v128.store(pr + o, e);
      }
    }
    const h = f32x4.add(acc, v128.shuffle<f32>(acc, acc, 2, 3, 0, 1));
    let z = f32x4.extract_lane(h, 0) + f32x4.extract_lane(h, 1);
    let M = max(max(f32x4.extract_lane(pm, 0), f32x4.extract_lane(pm, 1)), max(f32x4.extract_lane(pm, 2), f32x4.extract_lane(pm, 3)));
    for (; j < T; j++) {
      const o = <usize>j << 2;
      const e = exp2s(load<f32>(p + o) - m);
      z += e;
      const q = e * load<f32>(sv + o);
      M = max(M, q);
      store<f32>(p + o, q);
      if (probs != 0) store<f32>(pr + o, e);
    }
    store<f32>(rr + (<usize>i << 2), (M / PMAX) / z);
    // p̂: 8 at a time, i16 written over the first half of the row (each write lands on floats already read)
    const u = pScale(M);
    const vu = f32x4.splat(u), mg = f32x4.splat(R_MAGIC);
    for (j = 0; j < T8; j += 8) {
      const o = <usize>j << 2;
      const a = f32x4.add(f32x4.mul(v128.load(p + o), vu), mg);
      const b = f32x4.add(f32x4.mul(v128.load(p + o, 16), vu), mg);
      v128.store(p + (<usize>j << 1), v128.shuffle<u8>(a, b, 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29));
    }
    for (; j < T; j++) store<i16>(p + (<usize>j << 1), <i16>quantP(load<f32>(p + (<usize>j << 2)), u));
    for (; j < Tp; j++) store<i16>(p + (<usize>j << 1), 0);
    if (probs != 0) {
      const iz: f32 = <f32>1 / z;
      const viz = f32x4.splat(iz);
      for (j = 0; j < T4; j += 4) v128.store(pr + (<usize>j << 2), f32x4.mul(v128.load(pr + (<usize>j << 2)), viz));
      for (; j < T; j++) store<f32>(pr + (<usize>j << 2), load<f32>(pr + (<usize>j << 2)) * iz);
    }
  }
}

// @ts-ignore: decorator
@inline function quantP(x: f32, u: f32): i32 {
  return <i32>min<f32>(max<f32>(nearest<f32>(x * u), 0), PMAX);
}

export function attention_q8_softmax_ref(scratch: usize, T: i32, hd: i32, probs: usize): void {
  const Tp = pad8(T);
  const S = scratch + offS(T, hd), sv = scratch + offSV(T, hd), rr = scratch + offR(T, hd);
  const T4 = T & ~3;
  for (let i = 0; i < T; i++) {
    const p = S + (<usize>(i * Tp) << 2);
    let m: f32 = -Infinity;
    for (let j = 0; j < T; j++) m = max(m, load<f32>(p + (<usize>j << 2)));
    // z in the fast kernel's order: four lane sums over j < T4, (l0 + l2) + (l1 + l3), then the tail;
    // P' = e · s_v in place of S, e / z in the probabilities' row
    let l0: f32 = 0, l1: f32 = 0, l2: f32 = 0, l3: f32 = 0;
    let M: f32 = 0;
    for (let j = 0; j < T4; j++) {
      const e = exp2s(load<f32>(p + (<usize>j << 2)) - m);
      const r = j & 3;
      if (r == 0) l0 += e; else if (r == 1) l1 += e; else if (r == 2) l2 += e; else l3 += e;
    }
    let z: f32 = (l0 + l2) + (l1 + l3);
    for (let j = T4; j < T; j++) z += exp2s(load<f32>(p + (<usize>j << 2)) - m);
    for (let j = 0; j < T; j++) {
      const e = exp2s(load<f32>(p + (<usize>j << 2)) - m);
      const q = e * load<f32>(sv + (<usize>j << 2));
      M = max(M, q);
      store<f32>(p + (<usize>j << 2), q);
      if (probs != 0) store<f32>(probs + (<usize>(i * T + j) << 2), e * (<f32>1 / z));
    }
    store<f32>(rr + (<usize>i << 2), (M / PMAX) / z);
    const u = pScale(M);
    // p̂[j] (2 bytes at 2j) is written after P'[j] (4 bytes at 4j) is read: never over a value still to be read
    for (let j = 0; j < Tp; j++) {
      store<i16>(p + (<usize>j << 1), <i16>(j < T ? quantP(load<f32>(p + (<usize>j << 2)), u) : 0));
    }
  }
}

// --- out = p̂ v̂, dequantized --------------------------------------------------------------------------------------

/**
 * out (T, hd; row stride D) ← f32(p̂ v̂) · r_i: head h's columns of the attention output (out = att + h·hd floats).
 * Register tile 4 rows × 8 head dims (one v̂ panel), the reduction over Tp tokens in pairs; row tail one at a time.
 */
export function attention_q8_pv(out: usize, scratch: usize, T: i32, D: i32, heads: i32, h: i32): void {
  const hd = D / heads, hdp = pad8(hd), Tp = pad8(T);
  const vp = scratch + offV(T, hd), S = scratch + offS(T, hd), rr = scratch + offR(T, hd);
  const o0 = out + (<usize>(h * hd) << 2);
  const lda = <usize>Tp * 4; // p̂ rows live in S's rows
  const ldo = <usize>D << 2;
  const panelBytes = <usize>Tp * 16;
  const steps = Tp >> 1;
  const T4 = T & ~3;
  for (let pi = 0; pi < (hdp >> 3); pi++) {
    const pp = vp + <usize>pi * panelBytes;
    const nValid = hd - (pi << 3);
    let i = 0;
    for (; i < T4; i += 4) {
      let a0 = S + <usize>i * lda;
      let a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
      let wp = pp;
      let c00 = i32x4.splat(0), c01 = i32x4.splat(0), c10 = i32x4.splat(0), c11 = i32x4.splat(0);
      let c20 = i32x4.splat(0), c21 = i32x4.splat(0), c30 = i32x4.splat(0), c31 = i32x4.splat(0);
      for (let s = 0; s < steps; s++) {
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
      const o = o0 + <usize>i * ldo + (<usize>pi << 5);
      let r = f32x4.splat(load<f32>(rr + (<usize>i << 2)));
      pvStore(o, f32x4.mul(f32x4.convert_i32x4_s(c00), r), f32x4.mul(f32x4.convert_i32x4_s(c01), r), nValid);
      r = f32x4.splat(load<f32>(rr + (<usize>(i + 1) << 2)));
      pvStore(o + ldo, f32x4.mul(f32x4.convert_i32x4_s(c10), r), f32x4.mul(f32x4.convert_i32x4_s(c11), r), nValid);
      r = f32x4.splat(load<f32>(rr + (<usize>(i + 2) << 2)));
      pvStore(o + 2 * ldo, f32x4.mul(f32x4.convert_i32x4_s(c20), r), f32x4.mul(f32x4.convert_i32x4_s(c21), r), nValid);
      r = f32x4.splat(load<f32>(rr + (<usize>(i + 3) << 2)));
      pvStore(o + 3 * ldo, f32x4.mul(f32x4.convert_i32x4_s(c30), r), f32x4.mul(f32x4.convert_i32x4_s(c31), r), nValid);
    }
    for (; i < T; i++) {
      let a0 = S + <usize>i * lda;
      let wp = pp;
      let c00 = i32x4.splat(0), c01 = i32x4.splat(0);
      for (let s = 0; s < steps; s++) {
        const x0 = v128.load32_splat(a0);
        c00 = i32x4.add(c00, i32x4.dot_i16x8_s(x0, v128.load(wp)));
        c01 = i32x4.add(c01, i32x4.dot_i16x8_s(x0, v128.load(wp, 16)));
        wp += 32; a0 += 4;
      }
      const r = f32x4.splat(load<f32>(rr + (<usize>i << 2)));
      pvStore(o0 + <usize>i * ldo + (<usize>pi << 5), f32x4.mul(f32x4.convert_i32x4_s(c00), r), f32x4.mul(f32x4.convert_i32x4_s(c01), r), nValid);
    }
  }
}

// @ts-ignore: decorator
@inline function pvStore(o: usize, y0: v128, y1: v128, nValid: i32): void {
  if (nValid >= 8) {
    v128.store(o, y0);
    v128.store(o, y1, 16);
  } else if (nValid >= 4) {
    v128.store(o, y0);
    if (nValid > 4) storeLanes(o + 16, y1, nValid - 4);
  } else {
    storeLanes(o, y0, nValid);
  }
}

export function attention_q8_pv_ref(out: usize, scratch: usize, T: i32, D: i32, heads: i32, h: i32): void {
  const hd = D / heads, Tp = pad8(T);
  const vp = scratch + offV(T, hd), S = scratch + offS(T, hd), rr = scratch + offR(T, hd);
  for (let i = 0; i < T; i++) {
    for (let d = 0; d < hd; d++) {
      let acc = 0;
      for (let j = 0; j < T; j++) {
        acc += <i32>load<i16>(S + (<usize>(i * Tp) << 2) + (<usize>j << 1)) * <i32>load<i16>(vp + vAt(j, d, Tp));
      }
      store<f32>(out + ((<usize>i * <usize>D + <usize>(h * hd + d)) << 2), <f32>acc * load<f32>(rr + (<usize>i << 2)));
    }
  }
}

// --- every head --------------------------------------------------------------------------------------------------

/**
 * out (T, D) = int8 attention of qkv (T, 3D), head after head through the four kernels (what the engine's item
 * region runs per (image, head)). scratch: attention_q8_scratch_bytes(T, D / heads). probs ≠ 0: (heads, T, T) f32.
 */
export function attention_q8(out: usize, qkv: usize, T: i32, D: i32, heads: i32, scratch: usize, probs: usize): void {
  const hd = D / heads;
  const scale: f32 = <f32>1 / Mathf.sqrt(<f32>hd);
  for (let h = 0; h < heads; h++) {
    attention_q8_quant(scratch, qkv, T, D, heads, h);
    attention_q8_qk(scratch, T, hd, scale);
    attention_q8_softmax(scratch, T, hd, probs != 0 ? probs + (<usize>h * <usize>T * <usize>T << 2) : 0);
    attention_q8_pv(out, scratch, T, D, heads, h);
  }
}

export function attention_q8_ref(out: usize, qkv: usize, T: i32, D: i32, heads: i32, scratch: usize, probs: usize): void {
  const hd = D / heads;
  const scale: f32 = <f32>1 / Mathf.sqrt(<f32>hd);
  for (let h = 0; h < heads; h++) {
    attention_q8_quant_ref(scratch, qkv, T, D, heads, h);
    attention_q8_qk_ref(scratch, T, hd, scale);
    attention_q8_softmax_ref(scratch, T, hd, probs != 0 ? probs + (<usize>h * <usize>T * <usize>T << 2) : 0);
    attention_q8_pv_ref(out, scratch, T, D, heads, h);
  }
}
