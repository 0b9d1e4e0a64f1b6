// Memory helpers and the small SIMD building blocks the other kernel files share.
// Pointers are byte offsets into linear memory; counts are in f32 elements unless a name says bytes.

// --- shared SIMD helpers (inlined; never exported: v128 does not cross the ABI) ---------------------------

/** a·b + c, four lanes. Fused (relaxed_madd) in the relaxed build, mul then add in the simd build. */
// @ts-ignore: decorator
@inline export function madd4(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(a, b, c);
  } else {
    return f32x4.add(f32x4.mul(a, b), c);
  }
}

/** [Σ c0, Σ c1, Σ c2, Σ c3]: the horizontal sums of four accumulators, as one vector. */
// @ts-ignore: decorator
@inline export function hsum4(c0: v128, c1: v128, c2: v128, c3: v128): v128 {
  const s01 = f32x4.add(v128.shuffle<f32>(c0, c1, 0, 4, 1, 5), v128.shuffle<f32>(c0, c1, 2, 6, 3, 7));
  const s23 = f32x4.add(v128.shuffle<f32>(c2, c3, 0, 4, 1, 5), v128.shuffle<f32>(c2, c3, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(s01, s23, 0, 1, 4, 5), v128.shuffle<f32>(s01, s23, 2, 3, 6, 7));
}

/** Σ of the four lanes of v. */
// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  const s = f32x4.add(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1);
}

/** Store the first `count` (1..4) lanes of v at p. */
// @ts-ignore: decorator
@inline export function storeLanes(p: usize, v: v128, count: i32): void {
  if (count >= 4) {
    v128.store(p, v);
    return;
  }
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (count > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (count > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

// --- exported memory kernels --------------------------------------------------------------------------------

/** dst[n] = src[n] (regions may overlap). */
export function copy_f32(dst: usize, src: usize, n: i32): void {
  memory.copy(dst, src, <usize>n << 2);
}

/** dst[n] = value. */
export function fill_f32(dst: usize, value: f32, n: i32): void {
  const v = f32x4.splat(value);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), v);
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), value);
}

/** dst[n] = a[n] + b[n] (dst may alias a or b). */
export function add_f32(dst: usize, a: usize, b: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

/** dst (cols, ldDst) = src (rows, ldSrc)ᵀ: dst[c·ldDst + r] = src[r·ldSrc + c] for r < rows, c < cols. */
export function transpose_f32(dst: usize, src: usize, rows: i32, cols: i32, ldSrc: i32, ldDst: i32): void {
  for (let r = 0; r < rows; r++) {
    const s = src + (<usize>r * <usize>ldSrc << 2);
    const d = dst + (<usize>r << 2);
    for (let c = 0; c < cols; c++) {
      store<f32>(d + (<usize>c * <usize>ldDst << 2), load<f32>(s + (<usize>c << 2)));
    }
  }
}
