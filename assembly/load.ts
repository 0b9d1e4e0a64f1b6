// Loading kernels: what the engine does to a model file's float tensors once they are copied into linear memory,
// so no JavaScript loop touches the weights (sdk/engine/weights.ts copies the file's bytes in, calls these, and turns
// a returned index into E_NONFINITE naming the tensor).
//
//   find_nonfinite_f32   src f32 (n)                       → index of the first NaN/±Inf, or -1
//   convert_f16_f32      dst f32 (n) = src f16 (n)        → index of the first NaN/±Inf, or -1 (every element converted)
//   convert_bf16_f32     dst f32 (n) = src bf16 (n)       → the same
//
// Conversions are exact (IEEE half and bfloat16 are subsets of f32; half subnormals included) and equal the
// scalar `_ref` twins and the JavaScript f16ToF32 bit for bit, NaN payloads aside (a NaN stays a NaN). The 16-bit
// source may be the upper half of the f32 destination (src = dst + 2n: the file's bytes copied into the buffer
// they are widened into, converted in place); otherwise src and dst must not overlap.

const EXP32: i32 = 0x7f800000;

// --- f32 -------------------------------------------------------------------------------------------------------

/** Index of the first element of src f32 (n) whose exponent is all ones (NaN, ±Inf), or -1. */
export function find_nonfinite_f32(src: usize, n: i32): i32 {
  const vexp = i32x4.splat(EXP32);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const p = src + (<usize>i << 2);
    const a = i32x4.eq(v128.and(v128.load(p), vexp), vexp);
    const b = i32x4.eq(v128.and(v128.load(p, 16), vexp), vexp);
    const c = i32x4.eq(v128.and(v128.load(p, 32), vexp), vexp);
    const d = i32x4.eq(v128.and(v128.load(p, 48), vexp), vexp);
    if (v128.any_true(v128.or(v128.or(a, b), v128.or(c, d)))) return i + find_nonfinite_f32_ref(p, 16);
  }
  const r = find_nonfinite_f32_ref(src + (<usize>i << 2), n - i);
  return r < 0 ? -1 : i + r;
}

export function find_nonfinite_f32_ref(src: usize, n: i32): i32 {
  for (let i = 0; i < n; i++) {
    if ((load<i32>(src + (<usize>i << 2)) & EXP32) == EXP32) return i;
  }
  return -1;
}

// --- f16 -------------------------------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function f16Bits(h: u32): u32 {
  const sign = (h & 0x8000) << 16;
  const em = h & 0x7fff;
  if (em >= 0x7c00) return sign | <u32>EXP32 | ((em & 0x3ff) << 13); // ±Inf, NaN (payload kept)
  // em << 13 is the half's exponent and mantissa in f32 position, its exponent 112 too small (a normal half) or an
  // f32 subnormal (a subnormal half): one multiply by 2^112 is exact in both cases.
  return sign | reinterpret<u32>(reinterpret<f32>(em << 13) * reinterpret<f32>(0x77800000));
}

/** dst f32 (n) = src f16 (n); returns the index of the first NaN/±Inf (every element is converted anyway), or -1. */
export function convert_f16_f32(dst: usize, src: usize, n: i32): i32 {
  const vsign = i32x4.splat(0x8000);
  const vmag = i32x4.splat(0x7fff);
  const vinf = i32x4.splat(0x7c00 - 1);
  const vmul = f32x4.splat(reinterpret<f32>(0x77800000));
  let bad = -1;
  let i = 0;
  // 8 halves (16 bytes) in, 8 floats (32 bytes) out: with src = dst + 2n, block i's writes end at dst + 4i + 32 ≤
  // src + 2i + 16, where block i + 8 starts reading, because i + 8 ≤ n
  for (; i + 8 <= n; i += 8) {
    const h = v128.load(src + (<usize>i << 1));
    const lo = i32x4.extend_low_i16x8_u(h), hi = i32x4.extend_high_i16x8_u(h);
    const elo = v128.and(lo, vmag), ehi = v128.and(hi, vmag);
    if (v128.any_true(v128.or(i32x4.gt_s(elo, vinf), i32x4.gt_s(ehi, vinf)))) {
      // a NaN/Inf in this block: the scalar path writes its exact bits
      const r = convert_f16_f32_ref(dst + (<usize>i << 2), src + (<usize>i << 1), 8);
      if (bad < 0) bad = i + r;
      continue;
    }
    const flo = v128.or(f32x4.mul(i32x4.shl(elo, 13), vmul), i32x4.shl(v128.and(lo, vsign), 16));
    const fhi = v128.or(f32x4.mul(i32x4.shl(ehi, 13), vmul), i32x4.shl(v128.and(hi, vsign), 16));
    const d = dst + (<usize>i << 2);
    v128.store(d, flo);
    v128.store(d, fhi, 16);
  }
  const r = convert_f16_f32_ref(dst + (<usize>i << 2), src + (<usize>i << 1), n - i);
  return bad >= 0 ? bad : r < 0 ? -1 : i + r;
}

export function convert_f16_f32_ref(dst: usize, src: usize, n: i32): i32 {
  let bad = -1;
  for (let i = 0; i < n; i++) {
    const h = <u32>load<u16>(src + (<usize>i << 1));
    if ((h & 0x7c00) == 0x7c00 && bad < 0) bad = i;
    store<u32>(dst + (<usize>i << 2), f16Bits(h));
  }
  return bad;
}

// --- bf16 ------------------------------------------------------------------------------------------------------

/** dst f32 (n) = src bf16 (n) (the upper 16 bits of an f32); returns the index of the first NaN/±Inf, or -1. */
export function convert_bf16_f32(dst: usize, src: usize, n: i32): i32 {
  const vexp = i32x4.splat(EXP32);
  const zero = i32x4.splat(0);
  let bad = -1;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const h = v128.load(src + (<usize>i << 1));
    // interleave zeros below each half: lane j of lo = h[j] << 16
    const lo = v128.shuffle<u16>(zero, h, 0, 8, 1, 9, 2, 10, 3, 11);
    const hi = v128.shuffle<u16>(zero, h, 4, 12, 5, 13, 6, 14, 7, 15);
    if (bad < 0 && v128.any_true(v128.or(i32x4.eq(v128.and(lo, vexp), vexp), i32x4.eq(v128.and(hi, vexp), vexp)))) {
      bad = i + firstExpAllOnes(lo, hi);
    }
    const d = dst + (<usize>i << 2);
    v128.store(d, lo);
    v128.store(d, hi, 16);
  }
  const r = convert_bf16_f32_ref(dst + (<usize>i << 2), src + (<usize>i << 1), n - i);
  return bad >= 0 ? bad : r < 0 ? -1 : i + r;
}

/** The lane (0..7) of the first element of [lo, hi] whose exponent is all ones (one exists). */
// @ts-ignore: decorator
@inline function firstExpAllOnes(lo: v128, hi: v128): i32 {
  const m = i32x4.bitmask(i32x4.eq(v128.and(lo, i32x4.splat(EXP32)), i32x4.splat(EXP32))) |
    (i32x4.bitmask(i32x4.eq(v128.and(hi, i32x4.splat(EXP32)), i32x4.splat(EXP32))) << 4);
  return ctz(m);
}

export function convert_bf16_f32_ref(dst: usize, src: usize, n: i32): i32 {
  let bad = -1;
  for (let i = 0; i < n; i++) {
    const b = <u32>load<u16>(src + (<usize>i << 1)) << 16;
    if ((b & <u32>EXP32) == <u32>EXP32 && bad < 0) bad = i;
    store<u32>(dst + (<usize>i << 2), b);
  }
  return bad;
}
