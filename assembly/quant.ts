// Activation quantization kernels: per-row (per-token) symmetric quantization f32 → int8/int4 values, and a
// fake-quant (quantize-dequantize) kernel for bit-width sweeps. Pointers are byte offsets into linear memory.
//
// Semantics, identical in the SIMD kernels and their scalar `_ref` twins (so results are bit-exact):
//   scale s  = staticScale > 0 ? staticScale : (maxabs(row) > 0 ? maxabs(row) / qmax : 1)      (f32 division)
//   q        = i32( clamp( nearest(x / s), -qmax, qmax ) )                                         (ties to even)
//   x ≈ q · s.   qmax = 2^(bits-1) - 1: 127 for int8, 7 for int4.

// --- per-row quantization ------------------------------------------------------------------------

/**
 * q (M, ldq) = quantize(x (M, K)), row stride of x = K floats.
 * q holds i8 (qBytes = 1) or i16 (qBytes = 2) values; columns K..ldq-1 are written as zeros (panel padding).
 * scales f32 (M): one dequantization scale per row.
 * sums i32 (M, K/G): Σ q over each run of G columns (for the bias correction of the int4 kernels); sums = 0 skips.
 * G must divide K and be a multiple of 16 when sums is used (the int4 groups are 32, 64, 128). Inputs must be finite.
 */
export function quantize_act_rows(
  x: usize, M: i32, K: i32, qmax: i32, staticScale: f32,
  q: usize, qBytes: i32, ldq: i32, scales: usize, sums: usize, G: i32,
): void {
  const K4 = K & ~3;
  const K16 = K & ~15;
  const fq = <f32>qmax;
  const vmax = f32x4.splat(fq);
  const vmin = f32x4.splat(-fq);
  const ng = sums != 0 ? K / G : 0;
  for (let m = 0; m < M; m++) {
    const xr = x + <usize>m * <usize>K * 4;
    let s: f32 = staticScale;
    if (!(s > 0)) {
      // pmax = one maxps; equal to max on the non-negative, non-NaN values |x|
      let vm = f32x4.splat(0);
      let k = 0;
      for (; k < K4; k += 4) vm = f32x4.pmax(vm, f32x4.abs(v128.load(xr + <usize>k * 4)));
      let mx: f32 = max(max(f32x4.extract_lane(vm, 0), f32x4.extract_lane(vm, 1)), max(f32x4.extract_lane(vm, 2), f32x4.extract_lane(vm, 3)));
      for (; k < K; k++) mx = max(mx, abs<f32>(load<f32>(xr + <usize>k * 4)));
      s = mx > 0 ? mx / fq : 1;
    }
    store<f32>(scales + <usize>m * 4, s);
    const vs = f32x4.splat(s);
    const qr = q + <usize>m * <usize>ldq * <usize>qBytes;
    const sr = sums + <usize>m * <usize>ng * 4;
    let gacc = i32x4.splat(0);
    let k = 0;
    for (; k < K16; k += 16) {
      const p = xr + <usize>k * 4;
      const i0 = quant4(v128.load(p), vs, vmin, vmax), i1 = quant4(v128.load(p, 16), vs, vmin, vmax);
      const i2 = quant4(v128.load(p, 32), vs, vmin, vmax), i3 = quant4(v128.load(p, 48), vs, vmin, vmax);
      const h0 = i16x8.narrow_i32x4_s(i0, i1), h1 = i16x8.narrow_i32x4_s(i2, i3);
      if (qBytes == 2) {
        v128.store(qr + <usize>k * 2, h0);
        v128.store(qr + <usize>k * 2, h1, 16);
      } else {
        v128.store(qr + <usize>k, i8x16.narrow_i16x8_s(h0, h1));
      }
      if (ng > 0) {
        // groups are multiples of 16 (G = 32, 64, 128), so a group ends on this 16-wide step or not at all
        gacc = i32x4.add(gacc, i32x4.add(i32x4.add(i0, i1), i32x4.add(i2, i3)));
        if ((k + 16) % G == 0) {
          store<i32>(sr + <usize>((k + 16) / G - 1) * 4, i32x4.extract_lane(gacc, 0) + i32x4.extract_lane(gacc, 1) + i32x4.extract_lane(gacc, 2) + i32x4.extract_lane(gacc, 3));
          gacc = i32x4.splat(0);
        }
      }
    }
    for (; k < K4; k += 4) {
      const iv = quant4(v128.load(xr + <usize>k * 4), vs, vmin, vmax);
      const h = i16x8.narrow_i32x4_s(iv, iv);
      if (qBytes == 2) v128.store64_lane(qr + <usize>k * 2, h, 0);
      else v128.store32_lane(qr + <usize>k, i8x16.narrow_i16x8_s(h, h), 0);
    }
    for (; k < K; k++) {
      let v = nearest<f32>(load<f32>(xr + <usize>k * 4) / s);
      v = min(max(v, -fq), fq);
      const iq = <i32>v;
      if (qBytes == 2) store<i16>(qr + <usize>k * 2, iq);
      else store<i8>(qr + <usize>k, iq);
    }
    for (; k < ldq; k++) {
      if (qBytes == 2) store<i16>(qr + <usize>k * 2, 0);
      else store<i8>(qr + <usize>k, 0);
    }
  }
}

// Rounding by the 1.5·2^23 trick: for |y| ≤ 2^22, the f32 sum y + 1.5·2^23 rounds y to the nearest integer (ties to
// even, the default rounding mode, same as f32.nearest) into the low mantissa bits; subtracting the constant's bit
// pattern leaves that integer as i32. Clamping before rounding equals clamping after, qmax being an integer.
// Exactly equal to i32(clamp(nearest(x / s))) for finite x; cheaper in V8 than nearest + trunc_sat.
const MAGIC: f32 = 12582912.0;
const MAGIC_BITS: i32 = 0x4b400000;

// @ts-ignore: decorator
@inline function quant4(x: v128, vs: v128, vmin: v128, vmax: v128): v128 {
  const y = f32x4.pmin(f32x4.pmax(f32x4.div(x, vs), vmin), vmax);
  return i32x4.sub(f32x4.add(y, f32x4.splat(MAGIC)), i32x4.splat(MAGIC_BITS));
}

/** Scalar twin of quantize_act_rows (same arguments, same results). */
export function quantize_act_rows_ref(
  x: usize, M: i32, K: i32, qmax: i32, staticScale: f32,
  q: usize, qBytes: i32, ldq: i32, scales: usize, sums: usize, G: i32,
): void {
  const fq = <f32>qmax;
  for (let m = 0; m < M; m++) {
    const xr = x + <usize>m * <usize>K * 4;
    let s: f32 = staticScale;
    if (!(s > 0)) {
      let mx: f32 = 0;
      for (let k = 0; k < K; k++) mx = max(mx, abs<f32>(load<f32>(xr + <usize>k * 4)));
      s = mx > 0 ? mx / fq : 1;
    }
    store<f32>(scales + <usize>m * 4, s);
    const qr = q + <usize>m * <usize>ldq * <usize>qBytes;
    for (let k = 0; k < ldq; k++) {
      let iq = 0;
      if (k < K) iq = <i32>min(max(nearest<f32>(load<f32>(xr + <usize>k * 4) / s), -fq), fq);
      if (qBytes == 2) store<i16>(qr + <usize>k * 2, iq);
      else store<i8>(qr + <usize>k, iq);
    }
    if (sums != 0) {
      const ng = K / G;
      for (let g = 0; g < ng; g++) {
        let acc = 0;
        for (let k = g * G; k < (g + 1) * G; k++) acc += qBytes == 2 ? <i32>load<i16>(qr + <usize>k * 2) : <i32>load<i8>(qr + <usize>k);
        store<i32>(sums + (<usize>m * <usize>ng + <usize>g) * 4, acc);
      }
    }
  }
}

// --- fake quantization (simulated low-bit activations for sweeps) ---------------------------------

/** x (M, K) f32, in place: x ← q · s with per-row s = maxabs/qmax, qmax = 2^(bits-1) - 1 (bits 2..8). */
export function fake_quant_act_rows(x: usize, M: i32, K: i32, bits: i32): void {
  const fq = <f32>((1 << (bits - 1)) - 1);
  const vmax = f32x4.splat(fq);
  const vmin = f32x4.splat(-fq);
  const K4 = K & ~3;
  for (let m = 0; m < M; m++) {
    const xr = x + <usize>m * <usize>K * 4;
    let vm = f32x4.splat(0);
    let k = 0;
    for (; k < K4; k += 4) vm = f32x4.max(vm, f32x4.abs(v128.load(xr + <usize>k * 4)));
    let mx: f32 = max(max(f32x4.extract_lane(vm, 0), f32x4.extract_lane(vm, 1)), max(f32x4.extract_lane(vm, 2), f32x4.extract_lane(vm, 3)));
    for (; k < K; k++) mx = max(mx, abs<f32>(load<f32>(xr + <usize>k * 4)));
    if (!(mx > 0)) continue;
    const s: f32 = mx / fq;
    const vs = f32x4.splat(s);
    for (k = 0; k < K4; k += 4) {
      const p = xr + <usize>k * 4;
      const v = f32x4.min(f32x4.max(f32x4.nearest(f32x4.div(v128.load(p), vs)), vmin), vmax);
      v128.store(p, f32x4.mul(v, vs));
    }
    for (; k < K; k++) {
      const p = xr + <usize>k * 4;
      store<f32>(p, min(max(nearest<f32>(load<f32>(p) / s), -fq), fq) * s);
    }
  }
}

/** Scalar twin of fake_quant_act_rows. */
export function fake_quant_act_rows_ref(x: usize, M: i32, K: i32, bits: i32): void {
  const fq = <f32>((1 << (bits - 1)) - 1);
  for (let m = 0; m < M; m++) {
    const xr = x + <usize>m * <usize>K * 4;
    let mx: f32 = 0;
    for (let k = 0; k < K; k++) mx = max(mx, abs<f32>(load<f32>(xr + <usize>k * 4)));
    if (!(mx > 0)) continue;
    const s: f32 = mx / fq;
    for (let k = 0; k < K; k++) {
      const p = xr + <usize>k * 4;
      store<f32>(p, min(max(nearest<f32>(load<f32>(p) / s), -fq), fq) * s);
    }
  }
}
