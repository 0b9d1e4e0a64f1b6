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
 * G must divide K and be a multiple of 4 when sums is used.
 */
export function quantizeActRows(
  x: usize, M: i32, K: i32, qmax: i32, staticScale: f32,
  q: usize, qBytes: i32, ldq: i32, scales: usize, sums: usize, G: i32,
): void {
  const K4 = K & ~3;
  const fq = <f32>qmax;
  const vmax = f32x4.splat(fq);
  const vmin = f32x4.splat(-fq);
  const ng = sums != 0 ? K / G : 0;
  for (let m = 0; m < M; m++) {
    const xr = x + <usize>m * <usize>K * 4;
    let s: f32 = staticScale;
    if (!(s > 0)) {
      let vm = f32x4.splat(0);
      let k = 0;
      for (; k < K4; k += 4) vm = f32x4.max(vm, f32x4.abs(v128.load(xr + <usize>k * 4)));
      let mx: f32 = max(max(f32x4.extract_lane(vm, 0), f32x4.extract_lane(vm, 1)), max(f32x4.extract_lane(vm, 2), f32x4.extract_lane(vm, 3)));
      for (; k < K; k++) mx = max(mx, abs<f32>(load<f32>(xr + <usize>k * 4)));
      s = mx > 0 ? mx / fq : 1;
    }
    store<f32>(scales + <usize>m * 4, s);
    const vs = f32x4.splat(s);
    const qr = q + <usize>m * <usize>ldq * <usize>qBytes;
    let k = 0;
    for (; k < K4; k += 4) {
      let v = f32x4.nearest(f32x4.div(v128.load(xr + <usize>k * 4), vs));
      v = f32x4.min(f32x4.max(v, vmin), vmax);
      const iv = i32x4.trunc_sat_f32x4_s(v);
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
    if (ng > 0) rowGroupSums(qr, qBytes, K, G, sums + <usize>m * <usize>ng * 4);
  }
}

/** sums (K/G) = Σ q over each group of G columns of one quantized row. */
function rowGroupSums(qr: usize, qBytes: i32, K: i32, G: i32, out: usize): void {
  const ng = K / G;
  for (let g = 0; g < ng; g++) {
    let acc = i32x4.splat(0);
    const k0 = g * G;
    if (qBytes == 2) {
      for (let k = k0; k < k0 + G; k += 8) acc = i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(v128.load(qr + <usize>k * 2)));
    } else {
      for (let k = k0; k < k0 + G; k += 4) acc = i32x4.add(acc, i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(qr + <usize>k))));
    }
    store<i32>(out + <usize>g * 4, i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3));
  }
}

/** Scalar twin of quantizeActRows (same arguments, same results). */
export function quantizeActRows_ref(
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
export function fakeQuantActRows(x: usize, M: i32, K: i32, bits: i32): void {
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

/** Scalar twin of fakeQuantActRows. */
export function fakeQuantActRows_ref(x: usize, M: i32, K: i32, bits: i32): void {
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
