// int4 weight GEMMs: int4 × int8 (w4a8, and w4a4 with activations in [-7, 7]) and int4 × f32 (w4a16).
//
// Weights: symmetric int4 q ∈ [-7, 7], one scale per group of G consecutive k (G = 32, 64, 128) per output column.
//   w4a8:  out[m,n] = ( Σ_g f32(Σ_{k∈g} a[m,k]·q[n,k]) · sw[g,n] ) · sa[m] + bias[n]      (per-group partial sums)
//   w4a16: out[m,n] =   Σ_k x[m,k]·(f32(q[n,k])·sw[k/G,n]) + bias[n]        (4 lane sums by k mod 4; FMA on relaxed)
// Every w4a8 kernel runs the same integers and the same f32 operations in the same order as gemm_q4_ref; the cost
// int4 adds to an int8 GEMM is the per-group flush (convert, multiply by the group scale, add) of every i32 sum.
//
// w4a8 kernels and where their weights live (`int4Memory` in the SDK picks compact or fast):
//   gemm_q4, relaxed build (compact): nibbles in memory, unpacked in registers; products of a 32-k block summed in
//     i16 lanes by `i16x8.relaxed_dot_i8x16_i7x16_s` (one pmaddubsw per 16 multiply-adds), register tile 4 × 8.
//     It runs on the biased nibbles u = q + 8 and corrects per group: Σ a·q = Σ a·u − 8·Σ_g a (Σ_g a per row and
//     group from quantize_act_rows' `sums`): the relaxed dot's second operand must be 0..127 (FACTS.md).
//   gemm_q4, simd build (compact): nibbles in memory; each 8-column panel is expanded into one gemm_q4i16 panel of
//     scratch (gemm_q4_panel_bytes) and run by gemm_q4i16's tile: the expansion costs ~3 vector ops per 32 weights
//     once per call, shared by all M rows. No sums needed.
//   gemm_q4i16 (fast, both builds): weights expanded to i16 once at load; `i32x4.dot_i16x8_s`, register tile 4 × 8.
//
// Packed int4 buffers, per panel (zero-padded past N: u = 8, scale 0, bias 0):
//   Q4_LAYOUT_C4 (relaxed build, int), panels of 8 columns:
//     bias f32[8] | for each group: sw f32[8] | G/4 chunks of 16 bytes (4 k × 8 columns); byte 4c + j (c, j ∈ 0..3):
//     lo = u[c, k0+j], hi = u[4+c, k0+j]
//   Q4_LAYOUT_S8 (simd build, int), panels of 8 columns:
//     bias f32[8] | for each group: sw f32[8] | G/4 chunks of 16 bytes (4 k × 8 columns); byte j (0..15):
//     lo = u[j>>1, k0+(j&1)], hi = u[j>>1, k0+2+(j&1)] — lo bytes 0..7 / 8..15 are gemm_q4i16's two vectors of the
//     k pair (k0, k0+1), hi bytes those of (k0+2, k0+3)
//   Q4_LAYOUT_F (w4a16, both builds), panels of Q4_NR = 4 columns:
//     bias f32[4] | for each group: sw f32[4] | G/8 chunks of 16 bytes: i32 lane i (bytes 4i..4i+3, little-endian),
//     bits 28−4p..31−4p (p = 2c+h) = q[c, k0+4h+i] as 4-bit two's complement (u ^ 8), i ∈ 0..3, c ∈ 0..3, h ∈ 0..1
// File layout (what gemm_q4_ref reads, sdk/quant/formats.ts): row n, block b of 32 k, byte j: lo = u[n, 32b+j],
// hi = u[n, 32b+16+j].

import { gemm_f32, gemm_f32_packed_bytes } from './gemm_f32';
import { storeKPairs8, storeLanes, storeTranspose4 } from './memory';

export const Q4_NR: i32 = 4;
export const Q4W_NR: i32 = 8;
export const Q4_LAYOUT_C4: i32 = 0;
export const Q4_LAYOUT_S8: i32 = 1;
export const Q4_LAYOUT_F: i32 = 2;

/** The integer layout this build's gemm_q4 reads. */
export function q4_int_layout(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? Q4_LAYOUT_C4 : Q4_LAYOUT_S8;
}

/** Bytes per element of the quantized activations gemm_q4 reads: 1 (i8, relaxed build) or 2 (i16, simd build). */
export function q4_act_elem_bytes(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 2;
}

/**
 * Bytes of the packed buffer of an (N, K) int4 weight with group G, enough for every layout (the 8-column integer
 * layouts; Q4_LAYOUT_F's 4-column panels need at most as much).
 */
export function gemm_q4_packed_bytes(N: i32, K: i32, G: i32): usize {
  const panels = <usize>((N + Q4W_NR - 1) / Q4W_NR);
  return panels * (32 + <usize>(K / G) * (32 + <usize>G * 4));
}

/** 1 when gemm_q4 reads the activation group sums (relaxed build), 0 when it does not (simd build: pass sums = 0). */
export function q4_act_sums(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}

/** Bytes of the activation scratch of gemm_q4 for M rows of K, plus the group sums: M·K·elem + M·(K/G)·4. */
export function gemm_q4_act_bytes(M: i32, K: i32, G: i32): usize {
  return <usize>M * <usize>K * <usize>q4_act_elem_bytes() + <usize>M * <usize>(K / G) * 4;
}

/**
 * Bytes of gemm_q4's `panel` scratch for K, G: one gemm_q4i16 panel (32 + (K/G)·(32 + 16·G)) on the simd build, which
 * expands each 8-column nibble panel into it; 0 on the relaxed build (no scratch).
 */
export function gemm_q4_panel_bytes(K: i32, G: i32): usize {
  return ASC_FEATURE_RELAXED_SIMD ? 0 : 32 + <usize>(K / G) * (32 + <usize>G * 16);
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
  if (layout != Q4_LAYOUT_C4 && layout != Q4_LAYOUT_S8) {
    gemm_q4_pack_ref(wq, sw, bias, N, K, G, layout, dst);
    return;
  }
  // The integer layouts, full panels on v128, per 32-k file block of the 8 rows:
  //   Q4_LAYOUT_C4 (relaxed build): rows c and 4 + c interleaved into bytes (lo nibble row c, hi nibble row 4 + c),
  //     then 4×4 transposes of their 4-k lanes
  //   Q4_LAYOUT_S8 (simd build): per row, byte i = u[i] | u[i + 2] << 4, whose i16 lanes 0, 2, 4, 6 are the row's
  //     two bytes of the 4-k chunks 0..3; rows paired, then 4×4 transposes
  const full = N / Q4W_NR;
  const panelBytes = gemm_q4_packed_bytes(Q4W_NR, K, G);
  const ng = K / G, blocks = G >> 5;
  const ldw = <usize>(K >> 1);
  const lo4 = i8x16.splat(0x0f), hi4 = i8x16.splat(<i8>0xf0);
  for (let pi = 0; pi < full; pi++) {
    const n0 = pi * Q4W_NR;
    let p = dst + <usize>pi * panelBytes;
    storePanelHeader(p, bias, n0, Q4W_NR, N, 1, 0);
    p += 32;
    const r = wq + <usize>n0 * ldw;
    for (let g = 0; g < ng; g++) {
      storePanelHeader(p, sw, n0, Q4W_NR, N, ng, g);
      p += 32;
      for (let b = g * blocks; b < (g + 1) * blocks; b++) {
        const q = r + <usize>b * 16;
        if (layout == Q4_LAYOUT_S8) {
          // k 0..15 (low nibbles), then k 16..31 (high nibbles)
          storeTranspose4(p, s8Pair(q, q + ldw, false), s8Pair(q + 2 * ldw, q + 3 * ldw, false),
            s8Pair(q + 4 * ldw, q + 5 * ldw, false), s8Pair(q + 6 * ldw, q + 7 * ldw, false));
          storeTranspose4(p + 64, s8Pair(q, q + ldw, true), s8Pair(q + 2 * ldw, q + 3 * ldw, true),
            s8Pair(q + 4 * ldw, q + 5 * ldw, true), s8Pair(q + 6 * ldw, q + 7 * ldw, true));
          p += 128;
          continue;
        }
        const v0 = v128.load(q), v1 = v128.load(q + ldw), v2 = v128.load(q + 2 * ldw), v3 = v128.load(q + 3 * ldw);
        const v4 = v128.load(q + 4 * ldw), v5 = v128.load(q + 5 * ldw), v6 = v128.load(q + 6 * ldw), v7 = v128.load(q + 7 * ldw);
        // k 0..15 of the block: u[c] | u[4 + c] << 4; k 16..31: the high nibbles the same way
        storeTranspose4(p, v128.or(v128.and(v0, lo4), i8x16.shl(v4, 4)), v128.or(v128.and(v1, lo4), i8x16.shl(v5, 4)),
          v128.or(v128.and(v2, lo4), i8x16.shl(v6, 4)), v128.or(v128.and(v3, lo4), i8x16.shl(v7, 4)));
        storeTranspose4(p + 64, v128.or(i8x16.shr_u(v0, 4), v128.and(v4, hi4)), v128.or(i8x16.shr_u(v1, 4), v128.and(v5, hi4)),
          v128.or(i8x16.shr_u(v2, 4), v128.and(v6, hi4)), v128.or(i8x16.shr_u(v3, 4), v128.and(v7, hi4)));
        p += 128;
      }
    }
  }
  if (full * Q4W_NR < N) {
    // the last, partial panel as the ref packs it (rows [n0, N) at their own offsets)
    const n0 = full * Q4W_NR;
    gemm_q4_pack_ref(wq + <usize>n0 * ldw, sw + <usize>n0 * <usize>ng * 4, bias != 0 ? bias + (<usize>n0 << 2) : 0, N - n0, K, G, layout, dst + <usize>full * panelBytes);
  }
}

/**
 * Q4_LAYOUT_S8 bytes of two rows (file blocks at a and b), k 0..15 of the block (high = false) or 16..31 (true): i32
 * lane t = [row a's two bytes of 4-k chunk t, row b's], a byte being u[k] | u[k + 2] << 4 (k = 4t, 4t + 1).
 */
// @ts-ignore: decorator
@inline function s8Pair(a: usize, b: usize, high: bool): v128 {
  const va = v128.load(a), vb = v128.load(b);
  const ua = high ? i8x16.shr_u(va, 4) : v128.and(va, i8x16.splat(0x0f));
  const ub = high ? i8x16.shr_u(vb, 4) : v128.and(vb, i8x16.splat(0x0f));
  // byte i | byte i + 2 << 4 (the last two bytes of each row are not used)
  const ya = v128.or(ua, i8x16.shl(v128.shuffle<u8>(ua, ua, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1), 4));
  const yb = v128.or(ub, i8x16.shl(v128.shuffle<u8>(ub, ub, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1), 4));
  return v128.shuffle<u16>(ya, yb, 0, 8, 2, 10, 4, 12, 6, 14);
}

/** gemm_q4_pack's scalar twin: every layout, nibble by nibble, zero (u = 8, scale 0, bias 0) past N. */
export function gemm_q4_pack_ref(wq: usize, sw: usize, bias: usize, N: i32, K: i32, G: i32, layout: i32, dst: usize): void {
  const nr = layout == Q4_LAYOUT_F ? Q4_NR : Q4W_NR;
  const panels = (N + nr - 1) / nr;
  const ng = K / G;
  let p = dst;
  for (let pi = 0; pi < panels; pi++) {
    const n0 = pi * nr;
    storePanelHeader(p, bias, n0, nr, N, 1, 0);
    p += <usize>nr * 4;
    for (let g = 0; g < ng; g++) {
      storePanelHeader(p, sw, n0, nr, N, ng, g);
      p += <usize>nr * 4;
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
        } else {
          // 32 bytes = 8 k × 8 columns, two chunks of 4 k (the second at k0 + 4, bytes 16..31)
          for (let i = 0; i < 32; i++) {
            const kc = k0 + ((i >> 4) << 2), j = i & 15;
            let clo = 0, chi = 0, klo = 0, khi = 0;
            if (layout == Q4_LAYOUT_C4) { clo = j >> 2; chi = clo + 4; klo = j & 3; khi = klo; }
            else { clo = j >> 1; chi = clo; klo = j & 1; khi = klo + 2; }
            const lo = n0 + clo < N ? fileNibble(wq, K, n0 + clo, kc + klo) : 8;
            const hi = n0 + chi < N ? fileNibble(wq, K, n0 + chi, kc + khi) : 8;
            store<u8>(p + <usize>i, lo | (hi << 4));
          }
        }
        p += <usize>nr * 4;
      }
    }
  }
}

/**
 * dst (gemm_q4i16_packed_bytes) ← wq u8 (N, K/2) file layout, sw f32 (N, K/G), bias f32 (N) or 0. G must divide K.
 * Full panels on v128: each 32-k file block of the 8 rows unpacked to i16 and its k-pairs transposed into place;
 * a partial last panel through gemm_q4i16_pack_ref. Same bytes as the ref.
 */
export function gemm_q4i16_pack(wq: usize, sw: usize, bias: usize, N: i32, K: i32, G: i32, dst: usize): void {
  const full = N / Q4W_NR;
  const panelBytes = gemm_q4i16_packed_bytes(Q4W_NR, K, G);
  const ng = K / G, blocks = G >> 5;
  const ldw = <usize>(K >> 1);
  for (let pi = 0; pi < full; pi++) {
    const n0 = pi * Q4W_NR;
    let p = dst + <usize>pi * panelBytes;
    storePanelHeader(p, bias, n0, Q4W_NR, N, 1, 0);
    p += 32;
    const r = wq + <usize>n0 * ldw;
    for (let g = 0; g < ng; g++) {
      storePanelHeader(p, sw, n0, Q4W_NR, N, ng, g);
      p += 32;
      for (let b = g * blocks; b < (g + 1) * blocks; b++) {
        const q = r + <usize>b * 16;
        // k 0..7, 8..15 (low nibbles), 16..23, 24..31 (high nibbles) of the block, 8 rows each
        for (let part = 0; part < 4; part++) {
          storeKPairs8(p, q4Part(q, part), q4Part(q + ldw, part), q4Part(q + 2 * ldw, part), q4Part(q + 3 * ldw, part),
            q4Part(q + 4 * ldw, part), q4Part(q + 5 * ldw, part), q4Part(q + 6 * ldw, part), q4Part(q + 7 * ldw, part));
          p += 128;
        }
      }
    }
  }
  if (full * Q4W_NR < N) {
    const n0 = full * Q4W_NR;
    gemm_q4i16_pack_ref(wq + <usize>n0 * ldw, sw + <usize>n0 * <usize>ng * 4, bias != 0 ? bias + (<usize>n0 << 2) : 0, N - n0, K, G, dst + <usize>full * panelBytes);
  }
}

/** Signed q (i16 × 8) of one row's 32-k file block at q: part 0 = k 0..7, 1 = 8..15 (low nibbles), 2, 3 = 16..31. */
// @ts-ignore: decorator
@inline function q4Part(q: usize, part: i32): v128 {
  const v = v128.load(q);
  const u = part < 2 ? v128.and(v, i8x16.splat(0x0f)) : i8x16.shr_u(v, 4);
  const s = i8x16.sub(u, i8x16.splat(8));
  return (part & 1) == 0 ? i16x8.extend_low_i8x16_s(s) : i16x8.extend_high_i8x16_s(s);
}

/** gemm_q4i16_pack's scalar twin: nibble by nibble, zero past N. */
export function gemm_q4i16_pack_ref(wq: usize, sw: usize, bias: usize, N: i32, K: i32, G: i32, dst: usize): void {
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

// --- stores and the per-group flush ------------------------------------------------------------------

// A partial panel's outputs are stored lane by lane from registers: no static staging buffer, which two threads on
// one shared memory would race on (the -mt builds). nValid ≥ 1.
// @ts-ignore: decorator
@inline function storeCols8(out: usize, y0: v128, y1: v128, nValid: i32): void {
  if (nValid >= 8) {
    v128.store(out, y0);
    v128.store(out, y1, 16);
  } else if (nValid > 4) {
    v128.store(out, y0);
    storeLanes(out + 16, y1, nValid - 4);
  } else {
    storeLanes(out, y0, nValid);
  }
}

// f + f32(acc)·sw: one group's i32 sums into the f32 running sums (gemm_q4_ref's order).
// @ts-ignore: decorator
@inline function flush(f: v128, acc: v128, sw: v128): v128 {
  return f32x4.add(f, f32x4.mul(f32x4.convert_i32x4_s(acc), sw));
}

// f32 result of one row: f·sa + bias.
// @ts-ignore: decorator
@inline function finish(f: v128, s: v128, bias: v128): v128 {
  return f32x4.add(f32x4.mul(f, s), bias);
}

// --- w4a8, i16 panels: gemm_q4i16, and gemm_q4 on the simd build --------------------------------------------------
//
// The i16 panel (gemm_q4i16_pack, or gemm_q4's scratch on the simd build): signed i16 q (−7..7) in panels of
// Q4W_NR = 8 columns, "c2" order as gemm_q8 (for each pair of k, two v128 = [c0k c0k+1 c1k c1k+1 c2k c2k+1 c3k
// c3k+1], [c4 .. c7]), one f32 scale per column and group in front of each group: 2 bytes/weight, no unpacking or
// bias correction in the inner loop (one `i32x4.dot_i16x8_s` per 8 multiply-adds). Activations: i16 (M, K) from
// quantize_act_rows (qBytes 2, ldq K, no sums).
//   per panel: bias f32[8] | for each group: sw f32[8] | G/2 × (2 × v128)
//
// Register tile 4 rows × 8 columns: 8 i32x4 sums per group (the first k pair writes them: no zeroing, one add less per
// sum and group) and 8 f32x4 running sums. 8 + 8 + 3 operands do not fit V8's 15 xmm registers: the running sums are
// plain locals that V8 keeps in its own stack frame (one load and one store each per group, off the critical path);
// measured 4 % faster than keeping them in `out` or a static buffer (which threads on one memory would also race on).
// Inner loops run on a pointer bound (no counter). Unrolling by hand is slower: V8 hoists every load of the body.

/** One i16 panel `pp` (columns n0.., nValid of them valid) against all M rows of a. */
// @ts-ignore: decorator
@inline function q4i16Panel(a: usize, sa: usize, pp: usize, out: usize, M: i32, K: i32, G: i32, ldo: usize, nValid: i32): void {
  const lda = <usize>K * 2;
  const ng = K / G;
  const groupW: usize = <usize>G * 16; // weight bytes per group
  const gend = pp + 32 + <usize>ng * (groupW + 32);
  const M4 = M & ~3;
  let m = 0;
  for (; m < M4; m += 4) {
    let f00 = f32x4.splat(0), f01 = f32x4.splat(0), f10 = f32x4.splat(0), f11 = f32x4.splat(0);
    let f20 = f32x4.splat(0), f21 = f32x4.splat(0), f30 = f32x4.splat(0), f31 = f32x4.splat(0);
    let a0 = a + <usize>m * lda;
    let a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
    let gp = pp + 32;
    while (gp < gend) {
      let wp = gp + 32;
      const wend = wp + groupW;
      let w0 = v128.load(wp), w1 = v128.load(wp, 16);
      let x = v128.load32_splat(a0);
      let c00 = i32x4.dot_i16x8_s(x, w0), c01 = i32x4.dot_i16x8_s(x, w1);
      x = v128.load32_splat(a1);
      let c10 = i32x4.dot_i16x8_s(x, w0), c11 = i32x4.dot_i16x8_s(x, w1);
      x = v128.load32_splat(a2);
      let c20 = i32x4.dot_i16x8_s(x, w0), c21 = i32x4.dot_i16x8_s(x, w1);
      x = v128.load32_splat(a3);
      let c30 = i32x4.dot_i16x8_s(x, w0), c31 = i32x4.dot_i16x8_s(x, w1);
      wp += 32; a0 += 4; a1 += 4; a2 += 4; a3 += 4;
      while (wp < wend) {
        w0 = v128.load(wp); w1 = v128.load(wp, 16);
        x = v128.load32_splat(a0);
        c00 = i32x4.add(c00, i32x4.dot_i16x8_s(x, w0)); c01 = i32x4.add(c01, i32x4.dot_i16x8_s(x, w1));
        x = v128.load32_splat(a1);
        c10 = i32x4.add(c10, i32x4.dot_i16x8_s(x, w0)); c11 = i32x4.add(c11, i32x4.dot_i16x8_s(x, w1));
        x = v128.load32_splat(a2);
        c20 = i32x4.add(c20, i32x4.dot_i16x8_s(x, w0)); c21 = i32x4.add(c21, i32x4.dot_i16x8_s(x, w1));
        x = v128.load32_splat(a3);
        c30 = i32x4.add(c30, i32x4.dot_i16x8_s(x, w0)); c31 = i32x4.add(c31, i32x4.dot_i16x8_s(x, w1));
        wp += 32; a0 += 4; a1 += 4; a2 += 4; a3 += 4;
      }
      const sw0 = v128.load(gp), sw1 = v128.load(gp, 16);
      f00 = flush(f00, c00, sw0); f01 = flush(f01, c01, sw1);
      f10 = flush(f10, c10, sw0); f11 = flush(f11, c11, sw1);
      f20 = flush(f20, c20, sw0); f21 = flush(f21, c21, sw1);
      f30 = flush(f30, c30, sw0); f31 = flush(f31, c31, sw1);
      gp = wp;
    }
    const o = out + <usize>m * ldo;
    const b0 = v128.load(pp), b1 = v128.load(pp, 16); // loaded here, not kept in registers through the loops
    let s = f32x4.splat(load<f32>(sa + <usize>m * 4));
    storeCols8(o, finish(f00, s, b0), finish(f01, s, b1), nValid);
    s = f32x4.splat(load<f32>(sa + <usize>(m + 1) * 4));
    storeCols8(o + ldo, finish(f10, s, b0), finish(f11, s, b1), nValid);
    s = f32x4.splat(load<f32>(sa + <usize>(m + 2) * 4));
    storeCols8(o + 2 * ldo, finish(f20, s, b0), finish(f21, s, b1), nValid);
    s = f32x4.splat(load<f32>(sa + <usize>(m + 3) * 4));
    storeCols8(o + 3 * ldo, finish(f30, s, b0), finish(f31, s, b1), nValid);
  }
  for (; m < M; m++) {
    let f0 = f32x4.splat(0), f1 = f32x4.splat(0);
    let a0 = a + <usize>m * lda;
    let gp = pp + 32;
    while (gp < gend) {
      let wp = gp + 32;
      const wend = wp + groupW;
      let c0 = i32x4.splat(0), c1 = i32x4.splat(0);
      while (wp < wend) {
        const x = v128.load32_splat(a0);
        c0 = i32x4.add(c0, i32x4.dot_i16x8_s(x, v128.load(wp)));
        c1 = i32x4.add(c1, i32x4.dot_i16x8_s(x, v128.load(wp, 16)));
        wp += 32; a0 += 4;
      }
      f0 = flush(f0, c0, v128.load(gp)); f1 = flush(f1, c1, v128.load(gp, 16));
      gp = wp;
    }
    const s = f32x4.splat(load<f32>(sa + <usize>m * 4));
    storeCols8(out + <usize>m * ldo, finish(f0, s, v128.load(pp)), finish(f1, s, v128.load(pp, 16)), nValid);
  }
}

/** Bytes of gemm_q4i16's packed buffer for an (N, K) int4 weight with group G. */
export function gemm_q4i16_packed_bytes(N: i32, K: i32, G: i32): usize {
  const panels = <usize>((N + Q4W_NR - 1) / Q4W_NR);
  return panels * (32 + <usize>(K / G) * (32 + <usize>G * 16));
}

/**
 * gemm_q4i16 (int4Memory 'fast'): out (M, N) f32 = same formula as gemm_q4_ref, from a i16 (M, K), sa f32 (M) and
 * weights packed by gemm_q4i16_pack.
 */
export function gemm_q4i16(a: usize, sa: usize, packed: usize, out: usize, M: i32, N: i32, K: i32, G: i32): void {
  const panelBytes = gemm_q4i16_packed_bytes(Q4W_NR, K, G);
  const ldo = <usize>N * 4;
  for (let n0 = 0; n0 < N; n0 += Q4W_NR) {
    q4i16Panel(a, sa, packed + <usize>(n0 / Q4W_NR) * panelBytes, out + <usize>n0 * 4, M, K, G, ldo, N - n0);
  }
}

/**
 * gemm_q4: out (M, N) f32 = same formula as gemm_q4_ref, from a (M, K) quantized activations (i8 on the relaxed build,
 * i16 on the simd build: q4_act_elem_bytes), sa f32 (M), sums i32 (M, K/G) from quantize_act_rows (read on the
 * relaxed build only), weights packed by gemm_q4_pack in q4_int_layout(), and `panel`: gemm_q4_panel_bytes(K, G)
 * bytes of scratch (simd build; unused on the relaxed build).
 */
export function gemm_q4(a: usize, sa: usize, sums: usize, packed: usize, out: usize, M: i32, N: i32, K: i32, G: i32, panel: usize): void {
  if (ASC_FEATURE_RELAXED_SIMD) {
    gemmQ4Relaxed(a, sa, sums, packed, out, M, N, K, G);
    return;
  }
  const ng = K / G;
  const panelBytes = gemm_q4_packed_bytes(Q4W_NR, K, G);
  const ldo = <usize>N * 4;
  const mask = i8x16.splat(15), eight = i8x16.splat(8);
  for (let n0 = 0; n0 < N; n0 += Q4W_NR) {
    // expand the nibble panel (Q4_LAYOUT_S8) into one i16 panel: headers copied, 16 bytes → 4 v128 of signed q
    let src = packed + <usize>(n0 / Q4W_NR) * panelBytes;
    let dst = panel;
    v128.store(dst, v128.load(src)); v128.store(dst, v128.load(src, 16), 16);
    src += 32; dst += 32;
    for (let g = 0; g < ng; g++) {
      v128.store(dst, v128.load(src)); v128.store(dst, v128.load(src, 16), 16);
      src += 32; dst += 32;
      const send = src + <usize>G * 4;
      while (src < send) {
        const v = v128.load(src);
        const lo = i8x16.sub(v128.and(v, mask), eight);
        const hi = i8x16.sub(v128.and(i16x8.shr_u(v, 4), mask), eight);
        v128.store(dst, i16x8.extend_low_i8x16_s(lo));
        v128.store(dst, i16x8.extend_high_i8x16_s(lo), 16);
        v128.store(dst, i16x8.extend_low_i8x16_s(hi), 32);
        v128.store(dst, i16x8.extend_high_i8x16_s(hi), 48);
        src += 16; dst += 64;
      }
    }
    q4i16Panel(a, sa, panel, out + <usize>n0 * 4, M, K, G, ldo, N - n0);
  }
}

// --- w4a8 on the relaxed build: nibbles unpacked in registers ------------------------------------------------------
//
// Per 4 k × 8 columns, v = 16 bytes (Q4_LAYOUT_C4): lo = v & 15 holds u[c, k0..k0+3] at bytes 4c..4c+3 (columns 0..3),
// hi = (v >> 4) & 15 the same for columns 4..7. `i16x8.relaxed_dot_i8x16_i7x16_s(splat(a[k0..k0+3]), lo)` puts in
// i16 lanes 2c, 2c+1 column c's two pair sums, |.| ≤ 2·127·15 = 3810; the 8 chunks of a 32-k block add 8 of them per
// lane, so |lane| ≤ 30480 < 2^15 (exact: activations are clamped to ±127, never −128, and u ≤ 15). Per block the
// lanes are widened (pairs summed: lane c = column c) to i32 and, at the group's end, corrected by −8·Σ_g a and
// flushed. Register tile 4 rows × 8 columns: 8 i16 sums, 2 nibble vectors, the mask and the activation broadcasts in
// registers (one broadcast per row and 4 k serves both halves: V8 hoists every load of a loop body to its top, so a
// body of 4 k keeps the live set within the 15 xmm registers where one of 8 k spilled), the 8 f32 running sums in
// V8's stack frame (as in q4i16Panel).

// @ts-ignore: decorator
@inline function rdot(x: v128, u: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i16x8.relaxed_dot_i8x16_i7x16_s(x, u);
  return x;
}

// i32 sums of a block (pairs of i16 lanes) minus 8·Σ_g a: the corrected group sum when G = 32.
// @ts-ignore: decorator
@inline function corrected(h: v128, sumPtr: usize): v128 {
  return i32x4.sub(i32x4.extadd_pairwise_i16x8_s(h), i32x4.shl(v128.load32_splat(sumPtr), 3));
}

function gemmQ4Relaxed(a: usize, sa: usize, sums: usize, packed: usize, out: usize, M: i32, N: i32, K: i32, G: i32): void {
  if (G == 32) relaxedTiles(a, sa, sums, packed, out, M, N, K, 32, true);
  else relaxedTiles(a, sa, sums, packed, out, M, N, K, G, false);
}

// g32 (a constant after inlining): G = 32, no i32 sums across blocks — they would not fit in registers beside the rest.
// @ts-ignore: decorator
@inline function relaxedTiles(a: usize, sa: usize, sums: usize, packed: usize, out: usize, M: i32, N: i32, K: i32, G: i32, g32: bool): void {
  const lda = <usize>K;
  const ng = K / G;
  const ldsum = <usize>ng * 4;
  const groupW: usize = <usize>G * 4; // nibble bytes per group and panel
  const panelBytes = gemm_q4_packed_bytes(Q4W_NR, K, G);
  const ldo = <usize>N * 4;
  const M4 = M & ~3;
  const mask = i8x16.splat(15);
  for (let n0 = 0; n0 < N; n0 += Q4W_NR) {
    const pp = packed + <usize>(n0 / Q4W_NR) * panelBytes;
    const gend = pp + panelBytes;
    const nValid = N - n0;
    let m = 0;
    for (; m < M4; m += 4) {
      let f00 = f32x4.splat(0), f01 = f32x4.splat(0), f10 = f32x4.splat(0), f11 = f32x4.splat(0);
      let f20 = f32x4.splat(0), f21 = f32x4.splat(0), f30 = f32x4.splat(0), f31 = f32x4.splat(0);
      let a0 = a + <usize>m * lda;
      let a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
      let sg = sums + <usize>m * ldsum;
      let gp = pp + 32;
      while (gp < gend) {
        let wp = gp + 32;
        const wend = wp + groupW;
        // G = 32: one block, its sums flushed straight from the i16 lanes. G > 32: i32 sums across blocks.
        let i00 = i32x4.splat(0), i01 = i32x4.splat(0), i10 = i32x4.splat(0), i11 = i32x4.splat(0);
        let i20 = i32x4.splat(0), i21 = i32x4.splat(0), i30 = i32x4.splat(0), i31 = i32x4.splat(0);
        while (wp < wend) {
          const bend = wp + 128;
          let v = v128.load(wp);
          let lo = v128.and(v, mask), hi = v128.and(i16x8.shr_u(v, 4), mask);
          let x = v128.load32_splat(a0);
          let h00 = rdot(x, lo), h01 = rdot(x, hi);
          x = v128.load32_splat(a1);
          let h10 = rdot(x, lo), h11 = rdot(x, hi);
          x = v128.load32_splat(a2);
          let h20 = rdot(x, lo), h21 = rdot(x, hi);
          x = v128.load32_splat(a3);
          let h30 = rdot(x, lo), h31 = rdot(x, hi);
          wp += 16; a0 += 4; a1 += 4; a2 += 4; a3 += 4;
          while (wp < bend) {
            v = v128.load(wp);
            lo = v128.and(v, mask); hi = v128.and(i16x8.shr_u(v, 4), mask);
            x = v128.load32_splat(a0);
            h00 = i16x8.add(h00, rdot(x, lo)); h01 = i16x8.add(h01, rdot(x, hi));
            x = v128.load32_splat(a1);
            h10 = i16x8.add(h10, rdot(x, lo)); h11 = i16x8.add(h11, rdot(x, hi));
            x = v128.load32_splat(a2);
            h20 = i16x8.add(h20, rdot(x, lo)); h21 = i16x8.add(h21, rdot(x, hi));
            x = v128.load32_splat(a3);
            h30 = i16x8.add(h30, rdot(x, lo)); h31 = i16x8.add(h31, rdot(x, hi));
            wp += 16; a0 += 4; a1 += 4; a2 += 4; a3 += 4;
          }
          if (g32) {
            const sw0 = v128.load(gp), sw1 = v128.load(gp, 16);
            f00 = flush(f00, corrected(h00, sg), sw0); f01 = flush(f01, corrected(h01, sg), sw1);
            f10 = flush(f10, corrected(h10, sg + ldsum), sw0); f11 = flush(f11, corrected(h11, sg + ldsum), sw1);
            f20 = flush(f20, corrected(h20, sg + 2 * ldsum), sw0); f21 = flush(f21, corrected(h21, sg + 2 * ldsum), sw1);
            f30 = flush(f30, corrected(h30, sg + 3 * ldsum), sw0); f31 = flush(f31, corrected(h31, sg + 3 * ldsum), sw1);
          } else {
            i00 = i32x4.add(i00, i32x4.extadd_pairwise_i16x8_s(h00)); i01 = i32x4.add(i01, i32x4.extadd_pairwise_i16x8_s(h01));
            i10 = i32x4.add(i10, i32x4.extadd_pairwise_i16x8_s(h10)); i11 = i32x4.add(i11, i32x4.extadd_pairwise_i16x8_s(h11));
            i20 = i32x4.add(i20, i32x4.extadd_pairwise_i16x8_s(h20)); i21 = i32x4.add(i21, i32x4.extadd_pairwise_i16x8_s(h21));
            i30 = i32x4.add(i30, i32x4.extadd_pairwise_i16x8_s(h30)); i31 = i32x4.add(i31, i32x4.extadd_pairwise_i16x8_s(h31));
          }
        }
        if (!g32) {
          const sw0 = v128.load(gp), sw1 = v128.load(gp, 16);
          let s = i32x4.shl(v128.load32_splat(sg), 3);
          f00 = flush(f00, i32x4.sub(i00, s), sw0); f01 = flush(f01, i32x4.sub(i01, s), sw1);
          s = i32x4.shl(v128.load32_splat(sg + ldsum), 3);
          f10 = flush(f10, i32x4.sub(i10, s), sw0); f11 = flush(f11, i32x4.sub(i11, s), sw1);
          s = i32x4.shl(v128.load32_splat(sg + 2 * ldsum), 3);
          f20 = flush(f20, i32x4.sub(i20, s), sw0); f21 = flush(f21, i32x4.sub(i21, s), sw1);
          s = i32x4.shl(v128.load32_splat(sg + 3 * ldsum), 3);
          f30 = flush(f30, i32x4.sub(i30, s), sw0); f31 = flush(f31, i32x4.sub(i31, s), sw1);
        }
        sg += 4;
        gp = wp;
      }
      const o = out + <usize>m * ldo + <usize>n0 * 4;
      const b0 = v128.load(pp), b1 = v128.load(pp, 16);
      let s = f32x4.splat(load<f32>(sa + <usize>m * 4));
      storeCols8(o, finish(f00, s, b0), finish(f01, s, b1), nValid);
      s = f32x4.splat(load<f32>(sa + <usize>(m + 1) * 4));
      storeCols8(o + ldo, finish(f10, s, b0), finish(f11, s, b1), nValid);
      s = f32x4.splat(load<f32>(sa + <usize>(m + 2) * 4));
      storeCols8(o + 2 * ldo, finish(f20, s, b0), finish(f21, s, b1), nValid);
      s = f32x4.splat(load<f32>(sa + <usize>(m + 3) * 4));
      storeCols8(o + 3 * ldo, finish(f30, s, b0), finish(f31, s, b1), nValid);
    }
    for (; m < M; m++) {
      let f0 = f32x4.splat(0), f1 = f32x4.splat(0);
      let a0 = a + <usize>m * lda;
      let sg = sums + <usize>m * ldsum;
      let gp = pp + 32;
      while (gp < gend) {
        let wp = gp + 32;
        const wend = wp + groupW;
        let i0 = i32x4.splat(0), i1 = i32x4.splat(0);
        while (wp < wend) {
          const bend = wp + 128;
          let h0 = i16x8.splat(0), h1 = i16x8.splat(0);
          while (wp < bend) {
            const v = v128.load(wp);
            const x = v128.load32_splat(a0);
            h0 = i16x8.add(h0, rdot(x, v128.and(v, mask)));
            h1 = i16x8.add(h1, rdot(x, v128.and(i16x8.shr_u(v, 4), mask)));
            wp += 16; a0 += 4;
          }
          i0 = i32x4.add(i0, i32x4.extadd_pairwise_i16x8_s(h0)); i1 = i32x4.add(i1, i32x4.extadd_pairwise_i16x8_s(h1));
        }
        const s = i32x4.shl(v128.load32_splat(sg), 3);
        f0 = flush(f0, i32x4.sub(i0, s), v128.load(gp)); f1 = flush(f1, i32x4.sub(i1, s), v128.load(gp, 16));
        sg += 4;
        gp = wp;
      }
      const s = f32x4.splat(load<f32>(sa + <usize>m * 4));
      storeCols8(out + <usize>m * ldo + <usize>n0 * 4, finish(f0, s, v128.load(pp)), finish(f1, s, v128.load(pp, 16)), nValid);
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
