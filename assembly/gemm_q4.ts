// int4 weight GEMMs: int4-packed × int8 (w4a8, and w4a4 with activations in [-7, 7]) and int4 × f32 (w4a16).
//
// Weights: symmetric int4 q ∈ [-7, 7], one scale per group of G consecutive k (G = 32, 64, 128) per output column.
// The kernels read 4-bit nibbles stored +8 (0..15) and unpack them in registers; memory only ever holds nibbles.
//   w4a8:  out[m,n] = ( Σ_g f32(Σ_{k∈g} a[m,k]·q[n,k]) · sw[g,n] ) · sa[m] + bias[n]      (per-group partial sums)
//   w4a16: out[m,n] =   Σ_k x[m,k]·(f32(q[n,k])·sw[k/G,n]) + bias[n]        (4 lane sums by k mod 4; FMA on relaxed)
// The integer partial sums are computed on the biased nibbles u = q + 8 and corrected: Σ a·q = Σ a·u − 8·Σ_g a
// (Σ_g a per row and group comes from quantize_act_rows' `sums`). That is what makes the relaxed dot usable: its
// second operand must be 0..127 (FACTS.md) and u is 0..15.
//
// Packed buffer, per panel of Q4_NR = 4 output columns (zero-padded past N: u = 8, scale 0, bias 0):
//   bias f32[4] | for each group: sw f32[4] | G/8 chunks of 16 bytes (8 k × 4 columns, two nibbles per byte)
// Chunk byte order (k0 = first k of the chunk), per layout:
//   Q4_LAYOUT_C4 (relaxed build, int):  byte 4c+j    lo = u[c, k0+j],        hi = u[c, k0+4+j]        j ∈ 0..3
//   Q4_LAYOUT_C2 (simd build, int):     byte 8h+2c+j lo = u[c, k0+2h+j],     hi = u[c, k0+4+2h+j]     h, j ∈ 0..1
//   Q4_LAYOUT_F  (w4a16, both builds):  i32 lane i (bytes 4i..4i+3, little-endian), bits 28−4p..31−4p (p = 2c+h)
//                                       = q[c, k0+4h+i] as 4-bit two's complement (u ^ 8), i ∈ 0..3, c ∈ 0..3, h ∈ 0..1
// File layout (what gemm_q4_ref reads, sdk/quant/formats.ts): row n, block b of 32 k, byte j: lo = u[n, 32b+j],
// hi = u[n, 32b+16+j].

import { gemm_f32, gemm_f32_packed_bytes } from './gemm_f32';
import { storeLanes } from './memory';

export const Q4_NR: i32 = 4;
export const Q4_LAYOUT_C4: i32 = 0;
export const Q4_LAYOUT_C2: i32 = 1;
export const Q4_LAYOUT_F: i32 = 2;

/** The integer layout this build's gemm_q4 reads. */
export function q4_int_layout(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? Q4_LAYOUT_C4 : Q4_LAYOUT_C2;
}

/** Bytes per element of the quantized activations gemm_q4 reads: 1 (i8, relaxed build) or 2 (i16, simd build). */
export function q4_act_elem_bytes(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 2;
}

/** Bytes of the packed buffer of an (N, K) int4 weight with group G (either layout). */
export function gemm_q4_packed_bytes(N: i32, K: i32, G: i32): usize {
  const panels = <usize>((N + Q4_NR - 1) / Q4_NR);
  return panels * (16 + <usize>(K / G) * (16 + <usize>G * 2));
}

/** Bytes of the activation scratch of gemm_q4 for M rows of K, plus the group sums: M·K·elem + M·(K/G)·4. */
export function gemm_q4_act_bytes(M: i32, K: i32, G: i32): usize {
  return <usize>M * <usize>K * <usize>q4_act_elem_bytes() + <usize>M * <usize>(K / G) * 4;
}

// --- packing ---------------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function fileNibble(wq: usize, K: i32, n: i32, k: i32): i32 {
  const j = k & 31;
  const byte = <i32>load<u8>(wq + <usize>n * <usize>(K >> 1) + <usize>((k >> 5) * 16 + (j & 15)));
  return j < 16 ? byte & 15 : byte >> 4;
}

/**
 * A panel header: p[c] = src[(n0 + c)·stride + off] as f32 for c < nr, 0 past N or when src is 0 (no bias).
 * The bias row (stride 1, off 0) and each group's scale row (stride K/G, off g) of the int4 packers.
 */
function storePanelHeader(p: usize, src: usize, n0: i32, nr: i32, N: i32, stride: i32, off: i32): void {
  for (let c = 0; c < nr; c++) {
    const n = n0 + c;
    store<f32>(p + <usize>c * 4, n < N && src != 0 ? load<f32>(src + (<usize>n * <usize>stride + <usize>off) * 4) : 0);
  }
}

/**
 * dst (gemm_q4_packed_bytes) ← wq u8 (N, K/2) in the file layout, sw f32 (N, K/G), bias f32 (N) or 0, in `layout`
 * (q4_int_layout() for gemm_q4, Q4_LAYOUT_F for gemm_w4a16). K must be a multiple of G and G of 32.
 */
export function gemm_q4_pack(wq: usize, sw: usize, bias: usize, N: i32, K: i32, G: i32, layout: i32, dst: usize): void {
  const panels = (N + Q4_NR - 1) / Q4_NR;
  const ng = K / G;
  let p = dst;
  for (let pi = 0; pi < panels; pi++) {
    const n0 = pi * Q4_NR;
    storePanelHeader(p, bias, n0, Q4_NR, N, 1, 0);
    p += 16;
    for (let g = 0; g < ng; g++) {
      storePanelHeader(p, sw, n0, Q4_NR, N, ng, g);
      p += 16;
      for (let k0 = g * G; k0 < (g + 1) * G; k0 += 8) {
        if (layout == Q4_LAYOUT_F) {
          for (let i = 0; i < 4; i++) {
            let lane: u32 = 0; // nibble p = 2c + h: q[c, k0 + 4h + i]; padding columns hold q = 0
            for (let nb = 0; nb < 8; nb++) {
              const n = n0 + (nb >> 1);
              lane |= <u32>(n < N ? fileNibble(wq, K, n, k0 + 4 * (nb & 1) + i) ^ 8 : 0) << (28 - 4 * nb);
            }
            store<u32>(p + <usize>i * 4, lane);
          }
          p += 16;
          continue;
        }
        for (let i = 0; i < 16; i++) {
          let c = 0, klo = 0;
          if (layout == Q4_LAYOUT_C4) { c = i >> 2; klo = i & 3; }
          else { c = (i >> 1) & 3; klo = ((i >> 3) << 1) + (i & 1); }
          const n = n0 + c;
          const lo = n < N ? fileNibble(wq, K, n, k0 + klo) : 8;
          const hi = n < N ? fileNibble(wq, K, n, k0 + 4 + klo) : 8;
          store<u8>(p + <usize>i, lo | (hi << 4));
        }
        p += 16;
      }
    }
  }
}

// --- w4a8 kernel -------------------------------------------------------------------------------------

// A partial panel's outputs are stored lane by lane from registers: no static staging buffer, which two threads on
// one shared memory would race on (the -mt builds). nValid ≥ 1.
// @ts-ignore: decorator
@inline function storeCols4(out: usize, y: v128, nValid: i32): void {
  if (nValid >= 4) v128.store(out, y);
  else storeLanes(out, y, nValid);
}

// @ts-ignore: decorator
@inline function groupEnd(facc: v128, iacc: v128, sumPtr: usize, sw: v128): v128 {
  const corrected = i32x4.sub(iacc, i32x4.splat(load<i32>(sumPtr) << 3));
  return f32x4.add(facc, f32x4.mul(f32x4.convert_i32x4_s(corrected), sw));
}

// One 8-k chunk for one row: relaxed build, i8 activations at ap, nibble vectors lo/hi (C4 layout).
// @ts-ignore: decorator
@inline function chunkRelaxed(acc: v128, ap: usize, lo: v128, hi: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    acc = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load32_splat(ap), lo, acc);
    return i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load32_splat(ap, 4), hi, acc);
  }
  return acc;
}

// One 8-k chunk for one row: simd build, i16 activations at ap, widened nibble vectors (C2 layout).
// @ts-ignore: decorator
@inline function chunkI16(acc: v128, ap: usize, w0: v128, w1: v128, w2: v128, w3: v128): v128 {
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.load32_splat(ap), w0));
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.load32_splat(ap, 4), w1));
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.load32_splat(ap, 8), w2));
  return i32x4.add(acc, i32x4.dot_i16x8_s(v128.load32_splat(ap, 12), w3));
}

/**
 * gemm_q4 (int4 × int8, i32 partial sums per group): out (M, N) f32 from a (M, K) quantized activations
 * (i8 on the relaxed build, i16 on the simd build: q4_act_elem_bytes), sa f32 (M), sums i32 (M, K/G) from
 * quantize_act_rows, and weights packed by gemm_q4_pack in q4_int_layout(). Register tile 4 rows × 4 columns.
 */
export function gemm_q4(a: usize, sa: usize, sums: usize, packed: usize, out: usize, M: i32, N: i32, K: i32, G: i32): void {
  if (ASC_FEATURE_RELAXED_SIMD) {
    gemmQ4Relaxed(a, sa, sums, packed, out, M, N, K, G);
    return;
  }
  const eb = <usize>q4_act_elem_bytes();
  const lda = <usize>K * eb;
  const ng = K / G;
  const ldsum = <usize>ng * 4;
  const groupBytes: usize = <usize>G * 2 + 16;
  const panelBytes: usize = <usize>ng * groupBytes + 16;
  const panels = (N + Q4_NR - 1) / Q4_NR;
  const ldo = <usize>N * 4;
  const M4 = M & ~3;
  const chunks = G >> 3;
  const ck: usize = eb * 8; // activation bytes per chunk
  const mask = i8x16.splat(15);
  for (let pi = 0; pi < panels; pi++) {
    const pp = packed + <usize>pi * panelBytes;
    const n0 = pi * Q4_NR;
    const bias = v128.load(pp);
    let m = 0;
    for (; m < M4; m += 4) {
      let f0 = f32x4.splat(0), f1 = f32x4.splat(0), f2 = f32x4.splat(0), f3 = f32x4.splat(0);
      let a0 = a + <usize>m * lda;
      let a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
      const s0 = sums + <usize>m * ldsum;
      let gp = pp + 16;
      for (let g = 0; g < ng; g++) {
        let wp = gp + 16;
        let i0 = i32x4.splat(0), i1 = i32x4.splat(0), i2 = i32x4.splat(0), i3 = i32x4.splat(0);
        for (let c = 0; c < chunks; c++) {
          const v = v128.load(wp);
          const lo = v128.and(v, mask);
          const hi = i8x16.shr_u(v, 4);
          if (ASC_FEATURE_RELAXED_SIMD) {
            i0 = chunkRelaxed(i0, a0, lo, hi); i1 = chunkRelaxed(i1, a1, lo, hi);
            i2 = chunkRelaxed(i2, a2, lo, hi); i3 = chunkRelaxed(i3, a3, lo, hi);
          } else {
            const w0 = i16x8.extend_low_i8x16_u(lo), w1 = i16x8.extend_high_i8x16_u(lo);
            const w2 = i16x8.extend_low_i8x16_u(hi), w3 = i16x8.extend_high_i8x16_u(hi);
            i0 = chunkI16(i0, a0, w0, w1, w2, w3); i1 = chunkI16(i1, a1, w0, w1, w2, w3);
            i2 = chunkI16(i2, a2, w0, w1, w2, w3); i3 = chunkI16(i3, a3, w0, w1, w2, w3);
          }
          wp += 16; a0 += ck; a1 += ck; a2 += ck; a3 += ck;
        }
        const sw = v128.load(gp);
        const sg = s0 + <usize>g * 4;
        f0 = groupEnd(f0, i0, sg, sw);
        f1 = groupEnd(f1, i1, sg + ldsum, sw);
        f2 = groupEnd(f2, i2, sg + 2 * ldsum, sw);
        f3 = groupEnd(f3, i3, sg + 3 * ldsum, sw);
        gp += groupBytes;
      }
      const o = out + <usize>m * ldo + <usize>n0 * 4;
      storeCols4(o, f32x4.add(f32x4.mul(f0, f32x4.splat(load<f32>(sa + <usize>m * 4))), bias), N - n0);
      storeCols4(o + ldo, f32x4.add(f32x4.mul(f1, f32x4.splat(load<f32>(sa + <usize>(m + 1) * 4))), bias), N - n0);
      storeCols4(o + 2 * ldo, f32x4.add(f32x4.mul(f2, f32x4.splat(load<f32>(sa + <usize>(m + 2) * 4))), bias), N - n0);
      storeCols4(o + 3 * ldo, f32x4.add(f32x4.mul(f3, f32x4.splat(load<f32>(sa + <usize>(m + 3) * 4))), bias), N - n0);
    }
    for (; m < M; m++) {
      let f0 = f32x4.splat(0);
      let a0 = a + <usize>m * lda;
      const s0 = sums + <usize>m * ldsum;
      let gp = pp + 16;
      for (let g = 0; g < ng; g++) {
        let wp = gp + 16;
        let i0 = i32x4.splat(0);
        for (let c = 0; c < chunks; c++) {
          const v = v128.load(wp);
          const lo = v128.and(v, mask);
          const hi = i8x16.shr_u(v, 4);
          if (ASC_FEATURE_RELAXED_SIMD) {
            i0 = chunkRelaxed(i0, a0, lo, hi);
          } else {
            i0 = chunkI16(i0, a0, i16x8.extend_low_i8x16_u(lo), i16x8.extend_high_i8x16_u(lo),
              i16x8.extend_low_i8x16_u(hi), i16x8.extend_high_i8x16_u(hi));
          }
          wp += 16; a0 += ck;
        }
        f0 = groupEnd(f0, i0, s0 + <usize>g * 4, v128.load(gp));
        gp += groupBytes;
      }
      storeCols4(out + <usize>m * ldo + <usize>n0 * 4, f32x4.add(f32x4.mul(f0, f32x4.splat(load<f32>(sa + <usize>m * 4))), bias), N - n0);
    }
  }
}

// One 8-k chunk for one row on the relaxed build, accumulated in i16 lanes: lane 2c+i of the i16 dot holds
// a[k0+2i]·u[c,k0+2i] + a[k0+2i+1]·u[c,k0+2i+1] (C4 layout), |.| ≤ 2·127·15 = 3810; lo and hi add two of those.
// pmaddubsw + paddw (2 instructions) per 16 multiply-adds instead of the i32 dot's 3.
// @ts-ignore: decorator
@inline function chunkRelaxedI16(h: v128, ap: usize, lo: v128, hi: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    h = i16x8.add(h, i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(ap), lo));
    return i16x8.add(h, i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(ap, 4), hi));
  }
  return h;
}

// Sum of the 4 chunks of a 32-k block: each i16 lane gets 8 terms of |.| ≤ 3810, so |lane| ≤ 30480 < 2^15 (exact:
// activations are clamped to ±127, never −128, and u ≤ 15). The block's i16 lanes are widened (pairs summed) to i32.
// @ts-ignore: decorator
@inline function block32Relaxed(ap: usize, wp: usize, mask: v128): v128 {
  let h = i16x8.splat(0);
  for (let c = 0; c < 4; c++) {
    const v = v128.load(wp + <usize>c * 16);
    h = chunkRelaxedI16(h, ap + <usize>c * 8, v128.and(v, mask), i8x16.shr_u(v, 4));
  }
  return i32x4.extadd_pairwise_i16x8_s(h);
}

/**
 * gemm_q4 on the relaxed build (Q4_LAYOUT_C4, i8 activations): register tile 4 rows × 4 columns; products are summed
 * in i16 lanes over each 32-k block (bound above), widened to i32 per block, corrected by −8·Σ_g a and converted to
 * f32 once per group. Same integers, same f32 operations in the same order as gemm_q4_ref.
 */
function gemmQ4Relaxed(a: usize, sa: usize, sums: usize, packed: usize, out: usize, M: i32, N: i32, K: i32, G: i32): void {
  const lda = <usize>K;
  const ng = K / G;
  const ldsum = <usize>ng * 4;
  const groupBytes: usize = <usize>G * 2 + 16;
  const panelBytes: usize = <usize>ng * groupBytes + 16;
  const panels = (N + Q4_NR - 1) / Q4_NR;
  const ldo = <usize>N * 4;
  const M4 = M & ~3;
  const blocks = G >> 5;
  const mask = i8x16.splat(15);
  for (let pi = 0; pi < panels; pi++) {
    const pp = packed + <usize>pi * panelBytes;
    const n0 = pi * Q4_NR;
    const bias = v128.load(pp);
    let m = 0;
    for (; m < M4; m += 4) {
      let f0 = f32x4.splat(0), f1 = f32x4.splat(0), f2 = f32x4.splat(0), f3 = f32x4.splat(0);
      let a0 = a + <usize>m * lda;
      const s0 = sums + <usize>m * ldsum;
      let gp = pp + 16;
      for (let g = 0; g < ng; g++) {
        let wp = gp + 16;
        const sg = s0 + <usize>g * 4;
        // accumulators start at −8·Σ_g a: the bias correction of the stored u = q + 8
        let i0 = i32x4.splat(-(load<i32>(sg) << 3)), i1 = i32x4.splat(-(load<i32>(sg + ldsum) << 3));
        let i2 = i32x4.splat(-(load<i32>(sg + 2 * ldsum) << 3)), i3 = i32x4.splat(-(load<i32>(sg + 3 * ldsum) << 3));
        for (let b = 0; b < blocks; b++) {
          let h0 = i16x8.splat(0), h1 = i16x8.splat(0), h2 = i16x8.splat(0), h3 = i16x8.splat(0);
          for (let c = 0; c < 4; c++) {
            const v = v128.load(wp);
            const lo = v128.and(v, mask);
            const hi = i8x16.shr_u(v, 4);
            h0 = chunkRelaxedI16(h0, a0, lo, hi); h1 = chunkRelaxedI16(h1, a0 + lda, lo, hi);
            h2 = chunkRelaxedI16(h2, a0 + 2 * lda, lo, hi); h3 = chunkRelaxedI16(h3, a0 + 3 * lda, lo, hi);
            wp += 16; a0 += 8;
          }
          i0 = i32x4.add(i0, i32x4.extadd_pairwise_i16x8_s(h0)); i1 = i32x4.add(i1, i32x4.extadd_pairwise_i16x8_s(h1));
          i2 = i32x4.add(i2, i32x4.extadd_pairwise_i16x8_s(h2)); i3 = i32x4.add(i3, i32x4.extadd_pairwise_i16x8_s(h3));
        }
        const sw = v128.load(gp);
        f0 = f32x4.add(f0, f32x4.mul(f32x4.convert_i32x4_s(i0), sw));
        f1 = f32x4.add(f1, f32x4.mul(f32x4.convert_i32x4_s(i1), sw));
        f2 = f32x4.add(f2, f32x4.mul(f32x4.convert_i32x4_s(i2), sw));
        f3 = f32x4.add(f3, f32x4.mul(f32x4.convert_i32x4_s(i3), sw));
        gp += groupBytes;
      }
      const o = out + <usize>m * ldo + <usize>n0 * 4;
      storeCols4(o, f32x4.add(f32x4.mul(f0, f32x4.splat(load<f32>(sa + <usize>m * 4))), bias), N - n0);
      storeCols4(o + ldo, f32x4.add(f32x4.mul(f1, f32x4.splat(load<f32>(sa + <usize>(m + 1) * 4))), bias), N - n0);
      storeCols4(o + 2 * ldo, f32x4.add(f32x4.mul(f2, f32x4.splat(load<f32>(sa + <usize>(m + 2) * 4))), bias), N - n0);
      storeCols4(o + 3 * ldo, f32x4.add(f32x4.mul(f3, f32x4.splat(load<f32>(sa + <usize>(m + 3) * 4))), bias), N - n0);
    }
    for (; m < M; m++) {
      let f0 = f32x4.splat(0);
      let a0 = a + <usize>m * lda;
      const s0 = sums + <usize>m * ldsum;
      let gp = pp + 16;
      for (let g = 0; g < ng; g++) {
        let wp = gp + 16;
        let i0 = i32x4.splat(-(load<i32>(s0 + <usize>g * 4) << 3));
        for (let b = 0; b < blocks; b++) {
          i0 = i32x4.add(i0, block32Relaxed(a0, wp, mask));
          wp += 64; a0 += 32;
        }
        f0 = f32x4.add(f0, f32x4.mul(f32x4.convert_i32x4_s(i0), v128.load(gp)));
        gp += groupBytes;
      }
      storeCols4(out + <usize>m * ldo + <usize>n0 * 4, f32x4.add(f32x4.mul(f0, f32x4.splat(load<f32>(sa + <usize>m * 4))), bias), N - n0);
    }
  }
}

/**
 * Scalar twin on unpacked operands: a i8 (M, K), sa f32 (M), wq u8 (N, K/2) file layout, sw f32 (N, K/G),
 * bias f32 (N) or 0 → out (M, N) f32, same arithmetic order as gemm_q4.
 */
export function gemm_q4_ref(a: usize, sa: usize, wq: usize, sw: usize, bias: usize, out: usize, M: i32, N: i32, K: i32, G: i32): void {
  const ng = K / G;
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let f: f32 = 0;
      for (let g = 0; g < ng; g++) {
        let acc = 0;
        for (let k = g * G; k < (g + 1) * G; k++) {
          acc += <i32>load<i8>(a + <usize>m * <usize>K + <usize>k) * (fileNibble(wq, K, n, k) - 8);
        }
        f = f + <f32>acc * load<f32>(sw + (<usize>n * <usize>ng + <usize>g) * 4);
      }
      const b: f32 = bias != 0 ? load<f32>(bias + <usize>n * 4) : 0;
      store<f32>(out + (<usize>m * <usize>N + <usize>n) * 4, f * load<f32>(sa + <usize>m * 4) + b);
    }
  }
}

// --- w4a8, i16-resident weights (the memory-for-speed trade of the simd build) --------------------------------
//
// The int4 weights of the file expanded once, at load, into signed i16 q (−7..7) in panels of Q4W_NR = 8 columns,
// "c2" order as gemm_q8 (for each pair of k, two v128 = [c0k c0k+1 c1k c1k+1 c2k c2k+1 c3k c3k+1], [c4 .. c7]), with
// one f32 scale per column and group in front of each group: 4 bytes/weight in memory instead of 0.5 + scales, and no
// unpacking or bias correction in the inner loop (one `i32x4.dot_i16x8_s` per 8 multiply-adds). Activations: i16
// (M, K) from quantize_act_rows (qBytes 2, ldq K, no sums). Same integers and f32 order as gemm_q4_ref.
//   packed, per panel: bias f32[8] | for each group: sw f32[8] | G/2 × (2 × v128)

export const Q4W_NR: i32 = 8;

/** Bytes of gemm_q4i16's packed buffer for an (N, K) int4 weight with group G. */
export function gemm_q4i16_packed_bytes(N: i32, K: i32, G: i32): usize {
  const panels = <usize>((N + Q4W_NR - 1) / Q4W_NR);
  return panels * (32 + <usize>(K / G) * (32 + <usize>G * 16));
}

/** dst (gemm_q4i16_packed_bytes) ← wq u8 (N, K/2) file layout, sw f32 (N, K/G), bias f32 (N) or 0. G must divide K. */
export function gemm_q4i16_pack(wq: usize, sw: usize, bias: usize, N: i32, K: i32, G: i32, dst: usize): void {
  const panels = (N + Q4W_NR - 1) / Q4W_NR;
  const ng = K / G;
  let p = dst;
  for (let pi = 0; pi < panels; pi++) {
    const n0 = pi * Q4W_NR;
    storePanelHeader(p, bias, n0, Q4W_NR, N, 1, 0);
    p += 32;
    for (let g = 0; g < ng; g++) {
      storePanelHeader(p, sw, n0, Q4W_NR, N, ng, g);
      p += 32;
      for (let k = g * G; k < (g + 1) * G; k += 2) {
        for (let c = 0; c < Q4W_NR; c++) {
          const n = n0 + c;
          store<i16>(p + <usize>c * 4, n < N ? fileNibble(wq, K, n, k) - 8 : 0);
          store<i16>(p + <usize>c * 4 + 2, n < N ? fileNibble(wq, K, n, k + 1) - 8 : 0);
        }
        p += 32;
      }
    }
  }
}


// @ts-ignore: decorator
@inline function addScaled(slot: usize, acc: v128, sw: v128): void {
  v128.store(slot, f32x4.add(v128.load(slot), f32x4.mul(f32x4.convert_i32x4_s(acc), sw)));
}

// @ts-ignore: decorator
@inline function storeCols8(out: usize, y0: v128, y1: v128, nValid: i32): void {
  if (nValid >= 8) {
    v128.store(out, y0);
    v128.store(out, y1, 16);
  } else {
    storeCols4(out, y0, nValid);
    if (nValid > 4) storeCols4(out + 16, y1, nValid - 4);
  }
}

/**
 * gemm_q4i16: out (M, N) f32 = same formula as gemm_q4, from a i16 (M, K), sa f32 (M) and weights packed by
 * gemm_q4i16_pack. Register tile 4 rows × 8 columns: 8 i32x4 sums per group; the 8 f32 running sums live in the
 * tile's own place in `out` (L1 between groups; no static scratch, which threads on one shared memory would race on).
 * A partial panel (N % 8 ≠ 0) runs row by row with its sums in registers: the same operations, the same bits.
 */
export function gemm_q4i16(a: usize, sa: usize, packed: usize, out: usize, M: i32, N: i32, K: i32, G: i32): void {
  const lda = <usize>K * 2;
  const ng = K / G;
  const groupBytes: usize = <usize>G * 16 + 32;
  const panelBytes: usize = <usize>ng * groupBytes + 32;
  const panels = (N + Q4W_NR - 1) / Q4W_NR;
  const ldo = <usize>N * 4;
  const M4 = M & ~3;
  const steps = G >> 1;
  const zero = f32x4.splat(0);
  for (let pi = 0; pi < panels; pi++) {
    const pp = packed + <usize>pi * panelBytes;
    const n0 = pi * Q4W_NR;
    const nValid = N - n0;
    const m4 = nValid >= Q4W_NR ? M4 : 0;
    let m = 0;
    for (; m < m4; m += 4) {
      const o0 = out + <usize>m * ldo + <usize>n0 * 4;
      const o1 = o0 + ldo, o2 = o1 + ldo, o3 = o2 + ldo;
      v128.store(o0, zero); v128.store(o0, zero, 16); v128.store(o1, zero); v128.store(o1, zero, 16);
      v128.store(o2, zero); v128.store(o2, zero, 16); v128.store(o3, zero); v128.store(o3, zero, 16);
      let a0 = a + <usize>m * lda;
      let a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
      let gp = pp + 32;
      for (let g = 0; g < ng; g++) {
        let wp = gp + 32;
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
        const sw0 = v128.load(gp), sw1 = v128.load(gp, 16);
        addScaled(o0, c00, sw0); addScaled(o0 + 16, c01, sw1);
        addScaled(o1, c10, sw0); addScaled(o1 + 16, c11, sw1);
        addScaled(o2, c20, sw0); addScaled(o2 + 16, c21, sw1);
        addScaled(o3, c30, sw0); addScaled(o3 + 16, c31, sw1);
        gp = wp;
      }
      const b0 = v128.load(pp), b1 = v128.load(pp, 16);
      for (let r = 0; r < 4; r++) {
        const s = f32x4.splat(load<f32>(sa + <usize>(m + r) * 4));
        const f = o0 + <usize>r * ldo;
        v128.store(f, f32x4.add(f32x4.mul(v128.load(f), s), b0));
        v128.store(f, f32x4.add(f32x4.mul(v128.load(f, 16), s), b1), 16);
      }
    }
    for (; m < M; m++) {
      let f0 = f32x4.splat(0), f1 = f32x4.splat(0);
      let a0 = a + <usize>m * lda;
      let gp = pp + 32;
      for (let g = 0; g < ng; g++) {
        let wp = gp + 32;
        let c00 = i32x4.splat(0), c01 = i32x4.splat(0);
        for (let s = 0; s < steps; s++) {
          const x0 = v128.load32_splat(a0);
          c00 = i32x4.add(c00, i32x4.dot_i16x8_s(x0, v128.load(wp)));
          c01 = i32x4.add(c01, i32x4.dot_i16x8_s(x0, v128.load(wp, 16)));
          wp += 32; a0 += 4;
        }
        f0 = f32x4.add(f0, f32x4.mul(f32x4.convert_i32x4_s(c00), v128.load(gp)));
        f1 = f32x4.add(f1, f32x4.mul(f32x4.convert_i32x4_s(c01), v128.load(gp, 16)));
        gp = wp;
      }
      const s = f32x4.splat(load<f32>(sa + <usize>m * 4));
      storeCols8(out + <usize>m * ldo + <usize>n0 * 4,
        f32x4.add(f32x4.mul(f0, s), v128.load(pp)), f32x4.add(f32x4.mul(f1, s), v128.load(pp, 16)), nValid);
    }
  }
}

/** Scalar twin of gemm_q4i16 on i16 activations a (M, K): same formula and order as gemm_q4_ref. */
export function gemm_q4i16_ref(a: usize, sa: usize, wq: usize, sw: usize, bias: usize, out: usize, M: i32, N: i32, K: i32, G: i32): void {
  const ng = K / G;
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let f: f32 = 0;
      for (let g = 0; g < ng; g++) {
        let acc = 0;
        for (let k = g * G; k < (g + 1) * G; k++) {
          acc += <i32>load<i16>(a + (<usize>m * <usize>K + <usize>k) * 2) * (fileNibble(wq, K, n, k) - 8);
        }
        f = f + <f32>acc * load<f32>(sw + (<usize>n * <usize>ng + <usize>g) * 4);
      }
      const b: f32 = bias != 0 ? load<f32>(bias + <usize>n * 4) : 0;
      store<f32>(out + (<usize>m * <usize>N + <usize>n) * 4, f * load<f32>(sa + <usize>m * 4) + b);
    }
  }
}

// --- w4a16 kernel ------------------------------------------------------------------------------------
//
// out[m,n] = hsum_l(Σ_{k ≡ l mod 4} x[m,k] · w[n,k]) + bias[n], w[n,k] = f32(q[n,k]) · sw[k/G, n] (exact: |q| ≤ 7).
// Per panel of 4 columns the int4 weights are dequantized once into `panel` (one gemm_f32 panel: bias, then f32
// K × 4 in its block layout), and gemm_f32 runs the current row block against it (2×4 dot-product tile, 4 k per
// step, lanes = k mod 4, folded by hsum4 at the end): the inner loop is the f32 kernel itself, and the
// dequantization (≈ 6 vector ops per 8 weights) is shared by the block's rows (≥ 32 at K ≤ 768).
// Memory holds only nibbles and one f32 panel (16·(K+1) bytes, gemm_w4a16_panel_bytes).
//   simd build:    acc = acc + x·w (madd4 = mul, add): bit-exact with gemm_w4a16_ref;
//   relaxed build: madd4 = relaxed_madd (fused on FMA hardware): within a stated tolerance of gemm_w4a16_ref.
// Q4_LAYOUT_F chunk (16 bytes = 8 k × 4 columns): i32 lane i (bytes 4i..4i+3, little-endian), nibble p = 2c + h at
// bits 28−4p..31−4p holds q[c, k0 + 4h + i] as 4-bit two's complement (= u ^ 8). Nibble p comes out, sign-extended,
// as `i32x4.shr_s(i32x4.shl(v, 4p), 28)`: lanes = 4 consecutive k of column c, the f32 kernel's operand order.

/** Bytes of gemm_w4a16's panel scratch for K: one gemm_f32 panel (bias + f32 (K, 4)). */
export function gemm_w4a16_panel_bytes(K: i32): usize {
  return gemm_f32_packed_bytes(4, K);
}

// @ts-ignore: decorator
@inline function dequantNibble(v: v128, p: i32, s: v128): v128 {
  return f32x4.mul(f32x4.convert_i32x4_s(i32x4.shr_s(i32x4.shl(v, p * 4), 28)), s);
}

/**
 * gemm_w4a16: out (M, N) f32 = x (M, K) f32 · dequant(W)ᵀ + bias, W (N, K) int4 packed by gemm_q4_pack in Q4_LAYOUT_F;
 * panel: gemm_w4a16_panel_bytes(K) bytes of scratch, 16-byte aligned. K must be a multiple of G (so of 32).
 * Each 4-column panel is dequantized into the scratch as one gemm_f32 panel (bias, then 4-k blocks of 16 f32) and
 * run by gemm_f32's micro-kernel: V8 compiles in-loop nibble unpacking poorly (spills, unfolded offsets), while the
 * dequantization costs ~6 vector ops per 8 weights once per row block.
 */
export function gemm_w4a16(x: usize, packed: usize, out: usize, M: i32, N: i32, K: i32, G: i32, panel: usize): void {
  const lda = <usize>K * 4;
  const ng = K / G;
  const chunks = G >> 3;
  const groupBytes: usize = <usize>G * 2 + 16;
  const panelBytes: usize = <usize>ng * groupBytes + 16;
  const panels = (N + Q4_NR - 1) / Q4_NR;
  // Row blocks of MB rows (≤ 256 KiB of activations) stay in L2 while each panel passes over them; each block
  // dequantizes the panel again (256 KiB measured 5–10 % faster than 96 KiB at fc2).
  let MB = (262144 / (K * 4)) & ~1;
  if (MB < 2) MB = 2;
  for (let m0 = 0; m0 < M; m0 += MB) {
    const rows = min(M, m0 + MB) - m0;
    for (let pi = 0; pi < panels; pi++) {
      const pp = packed + <usize>pi * panelBytes;
      const n0 = pi * Q4_NR;
      v128.store(panel, v128.load(pp)); // bias
      // Dequantize: chunk (8 k) → two 4-k blocks of 16 f32, column c at +16c.
      let gp = pp + 16;
      let dst = panel + 16;
      for (let g = 0; g < ng; g++) {
        const sw = v128.load(gp);
        const s0 = i32x4.shuffle(sw, sw, 0, 0, 0, 0), s1 = i32x4.shuffle(sw, sw, 1, 1, 1, 1);
        const s2 = i32x4.shuffle(sw, sw, 2, 2, 2, 2), s3 = i32x4.shuffle(sw, sw, 3, 3, 3, 3);
        let wp = gp + 16;
        for (let c = 0; c < chunks; c++) {
          const v = v128.load(wp);
          v128.store(dst, dequantNibble(v, 0, s0));
          v128.store(dst, dequantNibble(v, 2, s1), 16);
          v128.store(dst, dequantNibble(v, 4, s2), 32);
          v128.store(dst, dequantNibble(v, 6, s3), 48);
          v128.store(dst, dequantNibble(v, 1, s0), 64);
          v128.store(dst, dequantNibble(v, 3, s1), 80);
          v128.store(dst, dequantNibble(v, 5, s2), 96);
          v128.store(dst, dequantNibble(v, 7, s3), 112);
          wp += 16;
          dst += 128;
        }
        gp += groupBytes;
      }
      gemm_f32(out + (<usize>m0 * <usize>N + <usize>n0) * 4, x + <usize>m0 * lda, panel, rows, min(Q4_NR, N - n0), K, K, N);
    }
  }
}

/**
 * Scalar twin of gemm_w4a16 on the file layout (wq u8 (N, K/2), sw f32 (N, K/G), bias f32 (N) or 0), the simd
 * build's order: w = f32(q)·sw; acc[k mod 4] = acc[k mod 4] + x·w for k ascending; out = ((acc0 + acc2) +
 * (acc1 + acc3)) + bias (hsum4's order).
 */
export function gemm_w4a16_ref(x: usize, wq: usize, sw: usize, bias: usize, out: usize, M: i32, N: i32, K: i32, G: i32): void {
  const ng = K / G;
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let a0: f32 = 0, a1: f32 = 0, a2: f32 = 0, a3: f32 = 0;
      for (let k = 0; k < K; k += 4) {
        const s = load<f32>(sw + (<usize>n * <usize>ng + <usize>(k / G)) * 4);
        const xr = x + (<usize>m * <usize>K + <usize>k) * 4;
        a0 = a0 + load<f32>(xr) * (<f32>(fileNibble(wq, K, n, k) - 8) * s);
        a1 = a1 + load<f32>(xr, 4) * (<f32>(fileNibble(wq, K, n, k + 1) - 8) * s);
        a2 = a2 + load<f32>(xr, 8) * (<f32>(fileNibble(wq, K, n, k + 2) - 8) * s);
        a3 = a3 + load<f32>(xr, 12) * (<f32>(fileNibble(wq, K, n, k + 3) - 8) * s);
      }
      const b: f32 = bias != 0 ? load<f32>(bias + <usize>n * 4) : 0;
      store<f32>(out + (<usize>m * <usize>N + <usize>n) * 4, ((a0 + a2) + (a1 + a3)) + b);
    }
  }
}
