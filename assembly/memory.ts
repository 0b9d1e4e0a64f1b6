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

/**
 * Store 8 rows' 4 k-pairs of i16 (row c = [c(k,k+1) c(k+2,k+3) c(k+4,k+5) c(k+6,k+7)] as i32 lanes) in the "c2"
 * order of the i16-resident int8/int4 panels (gemm_q8, gemm_q4i16): for each pair j, [c0 c1 c2 c3] then [c4 .. c7],
 * 128 bytes. Two 4×4 transposes of i32 lanes.
 */
// @ts-ignore: decorator
@inline export function storeKPairs8(p: usize, r0: v128, r1: v128, r2: v128, r3: v128, r4: v128, r5: v128, r6: v128, r7: v128): void {
  const a01 = v128.shuffle<u32>(r0, r1, 0, 4, 1, 5), a23 = v128.shuffle<u32>(r2, r3, 0, 4, 1, 5);
  const b01 = v128.shuffle<u32>(r0, r1, 2, 6, 3, 7), b23 = v128.shuffle<u32>(r2, r3, 2, 6, 3, 7);
  const c45 = v128.shuffle<u32>(r4, r5, 0, 4, 1, 5), c67 = v128.shuffle<u32>(r6, r7, 0, 4, 1, 5);
  const d45 = v128.shuffle<u32>(r4, r5, 2, 6, 3, 7), d67 = v128.shuffle<u32>(r6, r7, 2, 6, 3, 7);
  v128.store(p, v128.shuffle<u64>(a01, a23, 0, 2));
  v128.store(p, v128.shuffle<u64>(c45, c67, 0, 2), 16);
  v128.store(p, v128.shuffle<u64>(a01, a23, 1, 3), 32);
  v128.store(p, v128.shuffle<u64>(c45, c67, 1, 3), 48);
  v128.store(p, v128.shuffle<u64>(b01, b23, 0, 2), 64);
  v128.store(p, v128.shuffle<u64>(d45, d67, 0, 2), 80);
  v128.store(p, v128.shuffle<u64>(b01, b23, 1, 3), 96);
  v128.store(p, v128.shuffle<u64>(d45, d67, 1, 3), 112);
}

/** Store the 4×4 transpose of i32 lanes: chunk t (16 bytes at p + 16t) = [a.t, b.t, c.t, d.t]. 64 bytes. */
// @ts-ignore: decorator
@inline export function storeTranspose4(p: usize, a: v128, b: v128, c: v128, d: v128): void {
  const ab0 = v128.shuffle<u32>(a, b, 0, 4, 1, 5), cd0 = v128.shuffle<u32>(c, d, 0, 4, 1, 5);
  const ab1 = v128.shuffle<u32>(a, b, 2, 6, 3, 7), cd1 = v128.shuffle<u32>(c, d, 2, 6, 3, 7);
  v128.store(p, v128.shuffle<u64>(ab0, cd0, 0, 2));
  v128.store(p, v128.shuffle<u64>(ab0, cd0, 1, 3), 16);
  v128.store(p, v128.shuffle<u64>(ab1, cd1, 0, 2), 32);
  v128.store(p, v128.shuffle<u64>(ab1, cd1, 1, 3), 48);
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
