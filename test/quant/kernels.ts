// Shared by the vitest file and the child process (relaxed build needs V8 flags): instantiate the integer kernels,
// lay out operands, run each fast kernel and its `_ref` twin, and digest the outputs.

import { mulberry32, gaussian } from '../../sdk/model/random.js';
import { q4Value, quantizeQ4, quantizeQ8, type Q4Weight, type Q8Weight } from '../../sdk/quant/formats.js';
import type { QuantKernels } from '../../sdk/quant/linear.js';

/** The SDK's view of the integer kernels plus the scalar `_ref` twins the tests compare against. */
export interface QuantExports extends QuantKernels {
  memory: WebAssembly.Memory;
  quantize_act_rows_ref(x: number, M: number, K: number, qmax: number, staticScale: number, q: number, qBytes: number, ldq: number, scales: number, sums: number, G: number): void;
  fake_quant_act_rows_ref(x: number, M: number, K: number, bits: number): void;
  gemm_q8_ref(a: number, sa: number, wq: number, sw: number, bias: number, out: number, M: number, N: number, K: number): void;
  gemm_q4_ref(a: number, sa: number, wq: number, sw: number, bias: number, out: number, M: number, N: number, K: number, G: number): void;
  gemm_q4i16_ref(a: number, sa: number, wq: number, sw: number, bias: number, out: number, M: number, N: number, K: number, G: number): void;
  gemm_w4a16_ref(x: number, wq: number, sw: number, bias: number, out: number, M: number, N: number, K: number, G: number): void;
}

/** A wasm instance with a bump allocator over its memory (tests only; the engine plans memory itself). */
export class Kernels {
  readonly ex: QuantExports;
  private top = 1 << 16;
  /**
   * gemm_w4a16 == gemm_w4a16_ref bit for bit (the simd build); false on the relaxed build, whose relaxed_madd may fuse:
   * there it is held to w4a16Tolerance instead.
   */
  exactW4A16 = true;
  constructor(bytes: Uint8Array) {
    const mod = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    const inst = new WebAssembly.Instance(mod, { env: { abort: () => { throw new Error('wasm abort'); } } });
    this.ex = inst.exports as unknown as QuantExports;
  }
  reset(): void { this.top = 1 << 16; }
  alloc(bytes: number): number {
    const p = this.top;
    this.top = (this.top + bytes + 63) & ~63;
    const need = this.top - this.ex.memory.buffer.byteLength;
    if (need > 0) this.ex.memory.grow(Math.ceil(need / 65536));
    return p;
  }
  put(data: ArrayBufferView): number {
    const p = this.alloc(data.byteLength);
    new Uint8Array(this.ex.memory.buffer, p, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return p;
  }
  f32(p: number, n: number): Float32Array { return new Float32Array(this.ex.memory.buffer, p, n).slice(); }
  i32(p: number, n: number): Int32Array { return new Int32Array(this.ex.memory.buffer, p, n).slice(); }
  i8(p: number, n: number): Int8Array { return new Int8Array(this.ex.memory.buffer, p, n).slice(); }
  i16(p: number, n: number): Int16Array { return new Int16Array(this.ex.memory.buffer, p, n).slice(); }
}

/** Activations like a transformer's: Gaussian with a few large outliers per row. */
export function randomActs(M: number, K: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  const g = gaussian(r);
  const x = new Float32Array(M * K);
  for (let i = 0; i < x.length; i++) x[i] = g() * (r() < 0.01 ? 20 : 1);
  return x;
}

export function randomWeights(N: number, K: number, seed: number): Float32Array {
  const g = gaussian(mulberry32(seed));
  const w = new Float32Array(N * K);
  const std = 1 / Math.sqrt(K);
  for (let i = 0; i < w.length; i++) w[i] = g() * std;
  return w;
}

export function randomBias(N: number, seed: number): Float32Array {
  const g = gaussian(mulberry32(seed));
  return Float32Array.from({ length: N }, () => 0.1 * g());
}

/** FNV-1a over the bytes of a typed array, as hex. */
export function digest(a: ArrayBufferView): string {
  const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

function sameBits(a: Float32Array | Int32Array | Int8Array | Int16Array, b: typeof a, what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: length ${a.length} vs ${b.length}`);
  const ua = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const ub = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) {
      const e = Math.floor(i / a.BYTES_PER_ELEMENT);
      throw new Error(`${what}: element ${e} differs: ${a[e]} vs ${b[e]}`);
    }
  }
}

// --- one case per kernel ------------------------------------------------------------------------------

/** w8a8 at (M, N, K): quantize (fast, i16 padded) + gemm_q8 against quantize_ref (i8) + gemm_q8_ref. */
export function caseQ8(k: Kernels, M: number, N: number, K: number, seed: number, w?: Q8Weight): Float32Array {
  k.reset();
  const ex = k.ex;
  const x = randomActs(M, K, seed);
  const wq = w ?? quantizeQ8(randomWeights(N, K, seed + 1), N, K);
  const bias = randomBias(N, seed + 2);
  const px = k.put(x), pw = k.put(wq.q), ps = k.put(wq.scale), pb = k.put(bias);
  const Kp = ex.q8_kpad(K);
  const pa = k.alloc(ex.gemm_q8_act_bytes(M, K)), psa = k.alloc(4 * M);
  const pa_r = k.alloc(M * K), psa_r = k.alloc(4 * M);
  ex.quantize_act_rows(px, M, K, 127, 0, pa, 2, Kp, psa, 0, 0);
  ex.quantize_act_rows_ref(px, M, K, 127, 0, pa_r, 1, K, psa_r, 0, 0);
  sameBits(k.f32(psa, M), k.f32(psa_r, M), `q8 act scales ${M}x${K}`);
  const a16 = k.i16(pa, M * Kp);
  const a8 = k.i8(pa_r, M * K);
  for (let m = 0; m < M; m++) for (let j = 0; j < Kp; j++) {
    const want = j < K ? a8[m * K + j] : 0;
    if (a16[m * Kp + j] !== want) throw new Error(`q8 act (${m},${j}): ${a16[m * Kp + j]} vs ${want}`);
  }
  const pp = k.alloc(ex.gemm_q8_packed_bytes(N, K));
  ex.gemm_q8_pack(pw, ps, pb, N, K, pp);
  const po = k.alloc(4 * M * N), po_r = k.alloc(4 * M * N);
  ex.gemm_q8(pa, psa, pp, po, M, N, K);
  ex.gemm_q8_ref(pa_r, psa_r, pw, ps, pb, po_r, M, N, K);
  const out = k.f32(po, M * N);
  sameBits(out, k.f32(po_r, M * N), `gemm_q8 ${M}x${N}x${K}`);
  return out;
}

/** w4a8 / w4a4 at (M, N, K, G): this build's activation layout + gemm_q4 against the i8 refs. */
export function caseQ4(k: Kernels, M: number, N: number, K: number, G: number, seed: number, qmax = 127, w?: Q4Weight, acts?: Float32Array): Float32Array {
  k.reset();
  const ex = k.ex;
  const x = acts ?? randomActs(M, K, seed);
  const wq = w ?? quantizeQ4(randomWeights(N, K, seed + 1), N, K, G);
  const bias = randomBias(N, seed + 2);
  const px = k.put(x), pw = k.put(wq.q), ps = k.put(wq.scale), pb = k.put(bias);
  const eb = ex.q4_act_elem_bytes();
  const ng = K / G;
  const pa = k.alloc(M * K * eb), psa = k.alloc(4 * M), psum = k.alloc(4 * M * ng);
  const pa_r = k.alloc(M * K), psa_r = k.alloc(4 * M), psum_r = k.alloc(4 * M * ng);
  ex.quantize_act_rows(px, M, K, qmax, 0, pa, eb, K, psa, psum, G);
  ex.quantize_act_rows_ref(px, M, K, qmax, 0, pa_r, 1, K, psa_r, psum_r, G);
  sameBits(k.i32(psum, M * ng), k.i32(psum_r, M * ng), `q4 act group sums ${M}x${K}/${G}`);
  const pp = k.alloc(ex.gemm_q4_packed_bytes(N, K, G));
  ex.gemm_q4_pack(pw, ps, pb, N, K, G, ex.q4_int_layout(), pp);
  const po = k.alloc(4 * M * N), po_r = k.alloc(4 * M * N);
  ex.gemm_q4(pa, psa, psum, pp, po, M, N, K, G, k.alloc(ex.gemm_q4_panel_bytes(K, G)));
  ex.gemm_q4_ref(pa_r, psa_r, pw, ps, pb, po_r, M, N, K, G);
  const out = k.f32(po, M * N);
  sameBits(out, k.f32(po_r, M * N), `gemm_q4 ${M}x${N}x${K} G${G} qmax ${qmax}`);
  return out;
}

/** w4a8 with i16-resident weights (gemm_q4i16, the `int4Memory: 'fast'` path) against gemm_q4i16_ref and gemm_q4_ref. */
export function caseQ4I16(k: Kernels, M: number, N: number, K: number, G: number, seed: number, w?: Q4Weight, acts?: Float32Array): Float32Array {
  k.reset();
  const ex = k.ex;
  const x = acts ?? randomActs(M, K, seed);
  const wq = w ?? quantizeQ4(randomWeights(N, K, seed + 1), N, K, G);
  const bias = randomBias(N, seed + 2);
  const px = k.put(x), pw = k.put(wq.q), ps = k.put(wq.scale), pb = k.put(bias);
  const pa = k.alloc(M * K * 2), psa = k.alloc(4 * M);
  const pa8 = k.alloc(M * K), psa8 = k.alloc(4 * M);
  ex.quantize_act_rows(px, M, K, 127, 0, pa, 2, K, psa, 0, 0);
  ex.quantize_act_rows_ref(px, M, K, 127, 0, pa8, 1, K, psa8, 0, 0);
  const pp = k.alloc(ex.gemm_q4i16_packed_bytes(N, K, G));
  ex.gemm_q4i16_pack(pw, ps, pb, N, K, G, pp);
  const po = k.alloc(4 * M * N), po_r = k.alloc(4 * M * N), po_8 = k.alloc(4 * M * N);
  ex.gemm_q4i16(pa, psa, pp, po, M, N, K, G);
  ex.gemm_q4i16_ref(pa, psa, pw, ps, pb, po_r, M, N, K, G);
  ex.gemm_q4_ref(pa8, psa8, pw, ps, pb, po_8, M, N, K, G);
  const out = k.f32(po, M * N);
  sameBits(out, k.f32(po_r, M * N), `gemm_q4i16 ${M}x${N}x${K} G${G}`);
  sameBits(out, k.f32(po_8, M * N), `gemm_q4i16 vs gemm_q4_ref ${M}x${N}x${K} G${G}`);
  return out;
}

/**
 * The int4 kernels' worst case for their narrow accumulators: every activation ±127 with one sign per row, every
 * weight ±7 (u = 15 or 1), so the relaxed build's i16 block sums reach ±30480.
 */
export function extremeQ4(M: number, N: number, K: number, G: number): { w: Q4Weight; acts: Float32Array } {
  const acts = new Float32Array(M * K);
  for (let m = 0; m < M; m++) acts.fill(m % 2 ? -1 : 1, m * K, (m + 1) * K);
  const wf = new Float32Array(N * K);
  for (let n = 0; n < N; n++) wf.fill(n % 3 === 2 ? -1 : 1, n * K, (n + 1) * K);
  return { w: quantizeQ4(wf, N, K, G), acts };
}

/**
 * Worst-case bound on |gemm_w4a16 − gemm_w4a16_ref| when only the rounding of each multiply-add differs (relaxed_madd
 * fused or not) and the summation order is the same: each of the ≤ K/4 + 2 roundings on the way to out[m,n] is at
 * most 2^-24 relative to a partial sum bounded by Σ_k |x·w| + |b|, so |Δ| ≤ (K/4 + 2) · 2^-23 · (Σ_k |x·w| + |b|).
 * One wrong weight or activation (an error ≈ |x·w| ≈ Σ/K) is far above it at every K tested.
 */
export function w4a16Tolerance(absSum: number, K: number): number {
  return (K / 4 + 2) * 2 ** -23 * absSum;
}

/** w4a16 at (M, N, K, G): exact against the ref on the simd build, within w4a16Tolerance on the relaxed build. */
export function caseW4A16(k: Kernels, M: number, N: number, K: number, G: number, seed: number): Float32Array {
  k.reset();
  const ex = k.ex;
  const x = randomActs(M, K, seed);
  const wq = quantizeQ4(randomWeights(N, K, seed + 1), N, K, G);
  const bias = randomBias(N, seed + 2);
  const px = k.put(x), pw = k.put(wq.q), ps = k.put(wq.scale), pb = k.put(bias);
  const pp = k.alloc(ex.gemm_q4_packed_bytes(N, K, G));
  ex.gemm_q4_pack(pw, ps, pb, N, K, G, ex.Q4_LAYOUT_F.value as number, pp);
  const po = k.alloc(4 * M * N), po_r = k.alloc(4 * M * N);
  ex.gemm_w4a16(px, pp, po, M, N, K, G, k.alloc(ex.gemm_w4a16_panel_bytes(K)));
  ex.gemm_w4a16_ref(px, pw, ps, pb, po_r, M, N, K, G);
  const out = k.f32(po, M * N);
  const ref = k.f32(po_r, M * N);
  if (k.exactW4A16) {
    sameBits(out, ref, `gemm_w4a16 ${M}x${N}x${K} G${G}`);
    return out;
  }
  const ng = K / G;
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let abs = Math.abs(bias[n]);
    for (let j = 0; j < K; j++) abs += Math.abs(x[m * K + j] * q4Value(wq, n, j) * wq.scale[n * ng + Math.floor(j / G)]);
    const d = Math.abs(out[m * N + n] - ref[m * N + n]);
    if (!(d <= w4a16Tolerance(abs, K))) {
      throw new Error(`gemm_w4a16 ${M}x${N}x${K} G${G} (${m},${n}): ${out[m * N + n]} vs ref ${ref[m * N + n]}, |Δ| ${d} > ${w4a16Tolerance(abs, K)}`);
    }
  }
  // Digest of the ref (the same on both builds): the kernel's own bits may differ by the fused rounding.
  return ref;
}

export function caseFakeQuant(k: Kernels, M: number, K: number, bits: number, seed: number): Float32Array {
  k.reset();
  const x = randomActs(M, K, seed);
  const p = k.put(x), pr = k.put(x);
  k.ex.fake_quant_act_rows(p, M, K, bits);
  k.ex.fake_quant_act_rows_ref(pr, M, K, bits);
  const out = k.f32(p, M * K);
  sameBits(out, k.f32(pr, M * K), `fake_quant_act_rows ${M}x${K} ${bits} bits`);
  return out;
}

// --- the battery both builds run ------------------------------------------------------------------------

export const AWKWARD = [1, 3, 7, 15, 16, 17, 31, 33, 127, 129];
/** deit_tiny's linear shapes: M = 197 tokens; (K, N) of qkv, proj, fc1, fc2. */
export const VIT_SHAPES: Array<[number, number, string]> = [[192, 576, 'qkv'], [192, 192, 'proj'], [192, 768, 'fc1'], [768, 192, 'fc2']];

/** Runs every case (each checks fast == ref bit for bit, throwing otherwise) and returns output digests. */
export function runBattery(k: Kernels): Record<string, string> {
  const d: Record<string, string> = {};
  let seed = 100;
  for (let i = 0; i < AWKWARD.length; i++) {
    const M = AWKWARD[i], N = AWKWARD[(i + 3) % AWKWARD.length], K = AWKWARD[(i + 6) % AWKWARD.length];
    d[`q8 ${M}x${N}x${K}`] = digest(caseQ8(k, M, N, K, seed++));
    d[`q8 ${M}x${M}x${M}`] = digest(caseQ8(k, M, M, M, seed++));
  }
  for (let i = 0; i < AWKWARD.length; i++) {
    const M = AWKWARD[i], N = AWKWARD[(i + 4) % AWKWARD.length];
    for (const [K, G] of [[32, 32], [96, 32], [128, 64], [256, 128]]) {
      if ((i + K) % 3 === 0 || K === 96) {
        d[`q4 ${M}x${N}x${K}/${G}`] = digest(caseQ4(k, M, N, K, G, seed++));
        d[`q4a4 ${M}x${N}x${K}/${G}`] = digest(caseQ4(k, M, N, K, G, seed++, 7));
      }
    }
  }
  // w4a16: every awkward M (odd rows, partial 2-row tiles, row blocks) × a rotating awkward N (partial 4-column
  // panels) × each (K, G), G = 32 / 64 / 128, K up to ViT-B's fc2 (3072: 8-row blocks).
  for (let i = 0; i < AWKWARD.length; i++) {
    const M = AWKWARD[i], N = AWKWARD[(i + 2) % AWKWARD.length];
    for (const [K, G] of [[32, 32], [96, 32], [128, 64], [256, 128], [384, 128]]) d[`w4a16 ${M}x${N}x${K}/${G}`] = digest(caseW4A16(k, M, N, K, G, seed++));
  }
  d['w4a16 5x9x3072/64'] = digest(caseW4A16(k, 5, 9, 3072, 64, seed++));
  d['w4a16 33x7x1536/32'] = digest(caseW4A16(k, 33, 7, 1536, 32, seed++));
  for (let i = 0; i < AWKWARD.length; i++) {
    const M = AWKWARD[i], N = AWKWARD[(i + 5) % AWKWARD.length];
    for (const [K, G] of [[32, 32], [96, 32], [128, 64], [256, 128]]) {
      if ((i + K) % 2 === 0 || K === 32) d[`q4i16 ${M}x${N}x${K}/${G}`] = digest(caseQ4I16(k, M, N, K, G, seed++));
    }
  }
  // int4 kernels at the edges of their tiles: N around the 8-column panel (partial panels stored lane by lane), every
  // M tail (M mod 4: the 1-row loops), G = 32 (the relaxed build's flush-per-block path) and 64 / 128 (its i32 sums
  // across blocks). K is a multiple of G ≥ 32 for every int4 weight (formats.ts), so no K tails exist here; the int8
  // kernel's K tails (not a multiple of 8) are in the q8 cases above.
  for (const [M, N, K, G] of [[1, 8, 32, 32], [2, 9, 64, 32], [3, 15, 96, 32], [4, 1, 32, 32], [5, 16, 128, 64], [6, 17, 256, 128], [7, 7, 64, 64], [9, 24, 384, 128], [11, 23, 192, 32]]) {
    d[`q4 panel ${M}x${N}x${K}/${G}`] = digest(caseQ4(k, M, N, K, G, seed++));
    d[`q4a4 panel ${M}x${N}x${K}/${G}`] = digest(caseQ4(k, M, N, K, G, seed++, 7));
    d[`q4i16 panel ${M}x${N}x${K}/${G}`] = digest(caseQ4I16(k, M, N, K, G, seed++));
  }
  for (const [M, N, K, G] of [[5, 9, 64, 32], [4, 8, 256, 128], [7, 12, 192, 64], [6, 16, 128, 32]]) {
    const e = extremeQ4(M, N, K, G);
    d[`q4 extreme ${M}x${N}x${K}/${G}`] = digest(caseQ4(k, M, N, K, G, seed++, 127, e.w, e.acts));
    d[`q4i16 extreme ${M}x${N}x${K}/${G}`] = digest(caseQ4I16(k, M, N, K, G, seed++, e.w, e.acts));
  }
  for (const [K, N, name] of VIT_SHAPES) {
    d[`q8 vit ${name}`] = digest(caseQ8(k, 197, N, K, seed++));
    d[`q4 vit ${name}`] = digest(caseQ4(k, 197, N, K, 32, seed++));
    d[`q4i16 vit ${name}`] = digest(caseQ4I16(k, 197, N, K, 32, seed++));
  }
  d['q4i16 vit fc2 G128'] = digest(caseQ4I16(k, 197, 192, 768, 128, seed++));
  d['q4 vit fc2 G128'] = digest(caseQ4(k, 197, 192, 768, 128, seed++));
  for (const [K, N, name] of VIT_SHAPES) d[`w4a16 vit ${name}`] = digest(caseW4A16(k, 197, N, K, 32, seed++));
  d['w4a16 vit fc2 G128'] = digest(caseW4A16(k, 197, 192, 768, 128, seed++));
  for (const bits of [2, 3, 4, 8]) d[`fq ${bits}`] = digest(caseFakeQuant(k, 17, 33, bits, seed++));
  return d;
}
