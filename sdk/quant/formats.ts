// Quantization formats, written down once (docs/quantization.md has the same text with the measurements).
//
// All integer formats are symmetric (zero-point 0) and dequantize as  w ≈ q · s.
//
//   Q8_PC  int8 weights, per output channel.      <layer>.weight.q      I8  (N, K)      q ∈ [-127, 127], row-major
//                                                <layer>.weight.scale  F32 (N)          s[n] = clip[n] / 127
//          bits/weight = 8 + 32/K                 (K = 192: 8.17; K = 768: 8.04)
//
//   Q4_G   int4 weights, groups of G along K.     <layer>.weight.q      U8  (N, K/2)    two weights per byte
//          G ∈ {32, 64, 128}, G | K               <layer>.weight.scale  F16 (N, K/G)    s[n,g] = clip[n,g] / 7
//          Element order: row n is K/32 blocks of 16 bytes; in block b, byte j holds
//            low nibble  = q[n, 32b + j] + 8,   high nibble = q[n, 32b + 16 + j] + 8       (j = 0..15)
//          q ∈ [-7, 7] (stored 1..15; 0 is never written). bits/weight = 4 + 16/G  (G = 32: 4.5)
//          Scales are F16 (4.5 bits/weight at G = 32; F32 would be 5.0); a layer whose scales fall outside F16's
//          normal range [6.1e-5, 65504] is stored with F32 scales instead (the dtype says which).
//
//   A8     int8 activations, per token (row): s = maxabs(row)/127 at run time (act: 'dynamic', the default), or one
//          calibrated per-tensor scale (act: 'static', stored as <layer>.act_scale F32 (1)). q = clamp(rne(x/s)).
//   A4     int4 activations (w4a4), per token, s = maxabs(row)/7, values in [-7, 7] held in int8 lanes.
//
// The scheme is JSON in the metadata key `scheme`:
//   { name: 'fp32'|'w8a8'|'w4a8'|'w4a16'|'w4a4', weightBits, actBits, group, clip, act, layers: [...],
//     int8Layers?: [...], edges?: 'fp32'|'int8'|'int4' }
//   int4 schemes keep the patch embedding and head(s) in Q8_PC by default (int8Layers, "8-bit edges").
// and, for the simulated sweeps, { name: 'sim', weightBits: 2..8, actBits: 2..8 | 32, group, clip, layers } on f32 weights.

import { VitguardError } from '../errors.js';
import type { Tensor } from '../format/safetensors.js';
import { f16ToF32, f32ToF16, numel } from '../format/safetensors.js';

export const Q8_PC = { name: 'Q8_PC', bits: 8, qmax: 127, dtype: 'I8', scaleDtype: 'F32' } as const;
export const Q4_G = { name: 'Q4_G', bits: 4, qmax: 7, dtype: 'U8', scaleDtype: 'F16', block: 32, groups: [32, 64, 128] } as const;
export const A8 = { name: 'A8', bits: 8, qmax: 127 } as const;
export const A4 = { name: 'A4', bits: 4, qmax: 7 } as const;

export const SCHEMES = ['fp32', 'w8a8', 'w4a8', 'w4a16', 'w4a4'] as const;
export type SchemeName = (typeof SCHEMES)[number];

export interface QuantScheme {
  name: SchemeName | 'sim';
  weightBits: number; // 32 for fp32
  actBits: number; // 32 = f32 activations
  group: number; // int4 group along K; 0 = per output channel
  clip: 'minmax' | 'mse';
  act: 'dynamic' | 'static';
  /** Layer prefixes (timm names without `.weight`) that hold quantized weights at weightBits. */
  layers: string[];
  /**
   * Int4 schemes: the edge layers (patch embedding, head, head_dist) held in Q8_PC instead ("8-bit edges", the
   * default); they run w8a8 with dynamic per-token activations. Absent = none.
   */
  int8Layers?: string[];
  /** How the quantizer treated the patch embedding and head(s): 'fp32', 'int8' or 'int4' (informational). */
  edges?: EdgeFormat;
}

/** Format of the patch embedding and classifier head(s) in a quantized model. */
export type EdgeFormat = 'fp32' | 'int8' | 'int4';
export const EDGE_FORMATS: readonly EdgeFormat[] = ['fp32', 'int8', 'int4'];

const F16_MIN_NORMAL = 6.103515625e-5;
const F16_MAX = 65504;

// --- size assertions ------------------------------------------------------------------------------

/** Bytes of a Q8_PC weight (N, K): q + scales. */
export function q8Bytes(N: number, K: number): number {
  return N * K + 4 * N;
}

/** Bytes of a Q4_G weight (N, K) with group G and F16 scales: q + scales. */
export function q4Bytes(N: number, K: number, G: number, scaleBytes = 2): number {
  return (N * K) / 2 + scaleBytes * N * (K / G);
}

export function bitsPerWeightQ8(K: number): number {
  return 8 + 32 / K;
}

export function bitsPerWeightQ4(G: number, scaleBytes = 2): number {
  return 4 + (8 * scaleBytes) / G;
}

function shape(message: string): never {
  throw new VitguardError('E_TENSOR_SHAPE', message);
}

/** Check a stored Q8_PC pair against (N, K); throws E_TENSOR_SHAPE naming the layer. */
export function assertQ8(layer: string, q: Tensor, s: Tensor, N: number, K: number): void {
  if (q.dtype !== 'I8' || q.shape.length !== 2 || q.shape[0] !== N || q.shape[1] !== K) {
    shape(`${layer}.weight.q must be I8 [${N}, ${K}] (Q8_PC), got ${q.dtype}${JSON.stringify(q.shape)}`);
  }
  if (s.dtype !== 'F32' || numel(s.shape) !== N) shape(`${layer}.weight.scale must be F32 [${N}] (Q8_PC), got ${s.dtype}${JSON.stringify(s.shape)}`);
  if (q.bytes.byteLength + s.bytes.byteLength !== q8Bytes(N, K)) shape(`${layer}: Q8_PC size mismatch`);
}

/** Check a stored Q4_G pair against (N, K, G). */
export function assertQ4(layer: string, q: Tensor, s: Tensor, N: number, K: number, G: number): void {
  if (K % G !== 0 || G % Q4_G.block !== 0) shape(`${layer}: group ${G} must be a multiple of 32 dividing K = ${K}`);
  if (q.dtype !== 'U8' || q.shape.length !== 2 || q.shape[0] !== N || q.shape[1] !== K / 2) {
    shape(`${layer}.weight.q must be U8 [${N}, ${K / 2}] (Q4_G, two weights per byte), got ${q.dtype}${JSON.stringify(q.shape)}`);
  }
  if ((s.dtype !== 'F16' && s.dtype !== 'F32') || s.shape.length !== 2 || s.shape[0] !== N || s.shape[1] !== K / G) {
    shape(`${layer}.weight.scale must be F16 [${N}, ${K / G}] (Q4_G group ${G}), got ${s.dtype}${JSON.stringify(s.shape)}`);
  }
  if (q.bytes.byteLength + s.bytes.byteLength !== q4Bytes(N, K, G, s.dtype === 'F16' ? 2 : 4)) shape(`${layer}: Q4_G size mismatch`);
}

// --- rounding and clipping ------------------------------------------------------------------------

/** Round half to even (what f32.nearest does in the kernels). */
export function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Percentiles of |w| tried by the MSE clipper (RepQ-ViT style), highest first; 100 = min-max. */
export const CLIP_PERCENTILES = [100, 99.9, 99.5, 99, 98, 97, 95, 90];

/** Clip value for w[off .. off+n) (stride 1): maxabs (minmax) or the percentile of |w| with least squared error. */
export function chooseClip(w: Float32Array, off: number, n: number, qmax: number, clip: 'minmax' | 'mse', roundScale?: (s: number) => number): number {
  let mx = 0;
  for (let i = 0; i < n; i++) mx = Math.max(mx, Math.abs(w[off + i]));
  if (clip === 'minmax' || mx === 0) return mx;
  const abs = new Float64Array(n);
  for (let i = 0; i < n; i++) abs[i] = Math.abs(w[off + i]);
  abs.sort();
  let best = mx;
  let bestErr = Infinity;
  for (const p of CLIP_PERCENTILES) {
    const pos = (p / 100) * (n - 1);
    const lo = Math.floor(pos);
    const c = lo + 1 < n ? abs[lo] + (pos - lo) * (abs[lo + 1] - abs[lo]) : abs[n - 1];
    if (!(c > 0)) continue;
    const s = roundScale ? roundScale(c / qmax) : c / qmax;
    if (!(s > 0)) continue;
    let err = 0;
    for (let i = 0; i < n; i++) {
      const x = w[off + i];
      const q = Math.min(qmax, Math.max(-qmax, roundEven(x / s)));
      err += (x - q * s) ** 2;
    }
    if (err < bestErr) { bestErr = err; best = c; }
  }
  return best;
}

// --- Q8_PC ------------------------------------------------------------------------------------------

export interface Q8Weight { q: Int8Array; scale: Float32Array; N: number; K: number }

/** w f32 (N, K) → Q8_PC with per-output-channel scales. */
export function quantizeQ8(w: Float32Array, N: number, K: number, clip: 'minmax' | 'mse' = 'minmax'): Q8Weight {
  const q = new Int8Array(N * K);
  const scale = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    const c = chooseClip(w, n * K, K, 127, clip, Math.fround);
    const s = Math.fround(c > 0 ? c / 127 : 1);
    scale[n] = c > 0 ? s : 0;
    if (!(c > 0)) continue;
    for (let k = 0; k < K; k++) q[n * K + k] = Math.min(127, Math.max(-127, roundEven(w[n * K + k] / s)));
  }
  return { q, scale, N, K };
}

export function dequantizeQ8(x: Q8Weight): Float32Array {
  const out = new Float32Array(x.N * x.K);
  for (let n = 0; n < x.N; n++) for (let k = 0; k < x.K; k++) out[n * x.K + k] = x.q[n * x.K + k] * x.scale[n];
  return out;
}

// --- Q4_G -------------------------------------------------------------------------------------------

export interface Q4Weight {
  /** (N, K/2) bytes in the Q4_G element order. */
  q: Uint8Array;
  /** (N, K/G) f32 values (exactly representable in `scaleDtype`). */
  scale: Float32Array;
  scaleDtype: 'F16' | 'F32';
  N: number;
  K: number;
  G: number;
}

export function checkGroup(G: number, K: number, layer = 'weight'): void {
  if (!(Q4_G.groups as readonly number[]).includes(G)) {
    throw new VitguardError('E_SCHEME', `int4 group size must be one of ${Q4_G.groups.join(', ')}, got ${G}`);
  }
  if (K % G !== 0) {
    throw new VitguardError('E_SCHEME', `int4 group ${G} does not divide the input dimension K = ${K} of ${layer}: choose a group from ${Q4_G.groups.filter((g) => K % g === 0).join(', ') || '(none fits; keep this layer fp32 or int8)'}`);
  }
}

const toF16Value = (s: number): number => f16ToF32(f32ToF16(s));

/** Byte index and nibble shift of element (n, k) in the Q4_G layout. */
export function q4Position(K: number, n: number, k: number): { byte: number; shift: 0 | 4 } {
  const j = k & 31;
  return { byte: n * (K >> 1) + (k >> 5) * 16 + (j & 15), shift: j < 16 ? 0 : 4 };
}

/** w f32 (N, K) → Q4_G with group G (scales rounded to F16 before the weights are rounded, so both agree). */
export function quantizeQ4(w: Float32Array, N: number, K: number, G = 32, clip: 'minmax' | 'mse' = 'minmax', scaleDtype: 'F16' | 'F32' | 'auto' = 'auto'): Q4Weight {
  checkGroup(G, K);
  const ng = K / G;
  const raw = new Float64Array(N * ng);
  let f16ok = true;
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < ng; g++) {
      const c = chooseClip(w, n * K + g * G, G, 7, clip, scaleDtype === 'F32' ? Math.fround : toF16Value);
      const s = c / 7;
      raw[n * ng + g] = s;
      if (s > 0 && (s < F16_MIN_NORMAL || s > F16_MAX)) f16ok = false;
    }
  }
  const dtype: 'F16' | 'F32' = scaleDtype === 'auto' ? (f16ok ? 'F16' : 'F32') : scaleDtype;
  const round = dtype === 'F16' ? toF16Value : Math.fround;
  const scale = new Float32Array(N * ng);
  const q = new Uint8Array((N * K) / 2).fill(0x88);
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < ng; g++) {
      const s = round(raw[n * ng + g]);
      scale[n * ng + g] = s;
      if (!(s > 0)) continue;
      for (let k = g * G; k < (g + 1) * G; k++) {
        const v = Math.min(7, Math.max(-7, roundEven(w[n * K + k] / s))) + 8;
        const { byte, shift } = q4Position(K, n, k);
        q[byte] = (q[byte] & (0xf0 >> shift)) | (v << shift);
      }
    }
  }
  return { q, scale, scaleDtype: dtype, N, K, G };
}

/** The signed int4 value of element (n, k). */
export function q4Value(x: { q: Uint8Array; K: number }, n: number, k: number): number {
  const { byte, shift } = q4Position(x.K, n, k);
  return ((x.q[byte] >> shift) & 15) - 8;
}

export function dequantizeQ4(x: Q4Weight): Float32Array {
  const out = new Float32Array(x.N * x.K);
  const ng = x.K / x.G;
  for (let n = 0; n < x.N; n++) {
    for (let k = 0; k < x.K; k++) out[n * x.K + k] = q4Value(x, n, k) * x.scale[n * ng + Math.floor(k / x.G)];
  }
  return out;
}

// --- tensors ---------------------------------------------------------------------------------------

export function q8Tensors(x: Q8Weight): { q: Tensor; scale: Tensor } {
  return {
    q: { dtype: 'I8', shape: [x.N, x.K], bytes: new Uint8Array(x.q.buffer, x.q.byteOffset, x.q.byteLength) },
    scale: { dtype: 'F32', shape: [x.N], bytes: new Uint8Array(x.scale.buffer.slice(x.scale.byteOffset, x.scale.byteOffset + x.scale.byteLength)) },
  };
}

export function q4Tensors(x: Q4Weight): { q: Tensor; scale: Tensor } {
  const ng = x.K / x.G;
  let sb: Uint8Array;
  if (x.scaleDtype === 'F16') {
    const h = new Uint16Array(x.N * ng);
    for (let i = 0; i < h.length; i++) h[i] = f32ToF16(x.scale[i]);
    sb = new Uint8Array(h.buffer);
  } else {
    sb = new Uint8Array(x.scale.slice().buffer);
  }
  return {
    q: { dtype: 'U8', shape: [x.N, x.K / 2], bytes: x.q },
    scale: { dtype: x.scaleDtype, shape: [x.N, ng], bytes: sb },
  };
}

function scalesF32(t: Tensor): Float32Array {
  const n = numel(t.shape);
  const out = new Float32Array(n);
  const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  for (let i = 0; i < n; i++) out[i] = t.dtype === 'F16' ? f16ToF32(dv.getUint16(2 * i, true)) : dv.getFloat32(4 * i, true);
  return out;
}

/** Read a stored Q8_PC pair back (checked). */
export function readQ8(layer: string, q: Tensor, s: Tensor): Q8Weight {
  const [N, K] = q.shape;
  assertQ8(layer, q, s, N, K);
  return { q: new Int8Array(q.bytes.buffer, q.bytes.byteOffset, N * K), scale: scalesF32(s), N, K };
}

/** Check a stored Q4_G pair and return its (N, K, G); G comes from the scale tensor's shape. */
export function q4Shape(layer: string, q: Tensor, s: Tensor): { N: number; K: number; G: number } {
  const N = q.shape[0];
  const K = q.shape[1] * 2;
  const ng = s.shape[1];
  if (!(ng > 0) || K % ng !== 0) shape(`${layer}.weight.scale shape ${JSON.stringify(s.shape)} does not fit K = ${K}`);
  const G = K / ng;
  assertQ4(layer, q, s, N, K, G);
  return { N, K, G };
}

/** Read a stored Q4_G pair back (checked); G comes from the scale tensor's shape. */
export function readQ4(layer: string, q: Tensor, s: Tensor): Q4Weight {
  const { N, K, G } = q4Shape(layer, q, s);
  return { q: q.bytes, scale: scalesF32(s), scaleDtype: s.dtype as 'F16' | 'F32', N, K, G };
}
