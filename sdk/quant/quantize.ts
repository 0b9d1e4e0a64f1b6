// The quantizer: fp32 vitguard model → quantized model (formats.ts), and the simulated (quantize-dequantize) path
// for bit-width sweeps. Round-to-nearest-even; scales from min-max or from the MSE-best percentile clip.

import { VitguardError } from '../errors.js';
import type { ModelFile } from '../format/model.js';
import { encodeMeta } from '../format/model.js';
import { f32Tensor, numel, toFloat32, type Tensor } from '../format/safetensors.js';
import {
  checkGroup, chooseClip, quantizeQ4, quantizeQ8, q4Tensors, q8Tensors, roundEven, SCHEMES,
  type QuantScheme, type SchemeName,
} from './formats.js';

export { SCHEMES } from './formats.js';
export type { QuantScheme, SchemeName } from './formats.js';

export interface QuantizeOptions {
  scheme: string;
  /** int4 group along K: 32 (default), 64 or 128. */
  group?: number;
  clip?: 'minmax' | 'mse';
  /** Static per-tensor activation scales (the input of each listed layer), from calibration: act becomes 'static'. */
  calib?: { scales: Record<string, number> };
  /** Also quantize the patch embedding (as a (D, C·P·P) matrix) and/or the classifier head(s). Default false. */
  patchEmbed?: boolean;
  head?: boolean;
}

const BITS: Record<SchemeName, [number, number]> = {
  fp32: [32, 32], w8a8: [8, 8], w4a8: [4, 8], w4a16: [4, 32], w4a4: [4, 4],
};

function schemeError(message: string): never {
  throw new VitguardError('E_SCHEME', message);
}

export function parseSchemeName(name: string): SchemeName {
  if (!(SCHEMES as readonly string[]).includes(name)) {
    schemeError(`unknown quantization scheme ${JSON.stringify(name)}: expected one of ${SCHEMES.join(', ')}`);
  }
  return name as SchemeName;
}

/** The linear layers (timm prefixes) a scheme quantizes in this model, in file order. */
export function quantizableLayers(model: ModelFile, opts: { patchEmbed?: boolean; head?: boolean } = {}): string[] {
  const out: string[] = [];
  if (opts.patchEmbed) out.push('patch_embed.proj');
  for (let i = 0; i < model.meta.config.depth; i++) {
    out.push(`blocks.${i}.attn.qkv`, `blocks.${i}.attn.proj`, `blocks.${i}.mlp.fc1`, `blocks.${i}.mlp.fc2`);
  }
  if (opts.head) {
    out.push('head');
    if (model.tensors.has('head_dist.weight')) out.push('head_dist');
  }
  for (const l of out) {
    if (!model.tensors.has(`${l}.weight`)) {
      throw new VitguardError('E_TENSOR_MISSING', `cannot quantize ${l}: ${l}.weight is missing (is the model already quantized? scheme is ${model.meta.scheme.name})`);
    }
  }
  return out;
}

/** A weight as an (N, K) f32 matrix (conv kernels flattened over C·P·P). */
function weightMatrix(t: Tensor, layer: string): { w: Float32Array; N: number; K: number } {
  if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16') {
    throw new VitguardError('E_TENSOR_SHAPE', `${layer}.weight is ${t.dtype}; the quantizer needs a floating-point model`);
  }
  const N = t.shape[0];
  const K = numel(t.shape) / N;
  return { w: toFloat32(t), N, K };
}

/**
 * quantizeModel: a quantized copy of an fp32 model. Quantized layers get `<layer>.weight.q` + `<layer>.weight.scale`
 * (and `<layer>.act_scale` when calibrated) in place of `<layer>.weight`; everything else is kept as is.
 * Throws E_SCHEME for an unknown scheme, a bad group or clip, or calibration scales that are missing or not positive.
 */
export function quantizeModel(model: ModelFile, opts: QuantizeOptions): ModelFile {
  const name = parseSchemeName(opts.scheme);
  if (model.meta.scheme.name !== 'fp32') schemeError(`model is already quantized (${model.meta.scheme.name}); quantize the fp32 model`);
  const clip = opts.clip ?? 'minmax';
  if (clip !== 'minmax' && clip !== 'mse') schemeError(`clip must be 'minmax' or 'mse', got ${JSON.stringify(clip)}`);
  const [weightBits, actBits] = BITS[name];
  const group = weightBits === 4 ? (opts.group ?? 32) : 0;
  if (weightBits !== 4 && opts.group !== undefined && opts.group !== 0) schemeError(`--group applies to int4 schemes only (w4a8, w4a16, w4a4), not ${name}`);
  const layers = name === 'fp32' ? [] : quantizableLayers(model, opts);
  if (weightBits === 4) {
    if (!Number.isInteger(group)) schemeError(`group must be an integer, got ${opts.group}`);
    for (const l of layers) checkGroup(group, weightMatrix(model.tensors.get(`${l}.weight`)!, l).K, `${l}.weight`);
  }
  const act: 'dynamic' | 'static' = opts.calib ? 'static' : 'dynamic';
  if (opts.calib) {
    if (actBits >= 32) schemeError(`${name} has f32 activations: calibration scales do not apply`);
    for (const l of layers) {
      const s = opts.calib.scales[l];
      if (!(typeof s === 'number' && Number.isFinite(s) && s > 0)) schemeError(`calibration has no positive activation scale for ${l} (got ${s})`);
    }
  }
  const scheme: QuantScheme = { name, weightBits, actBits, group, clip, act, layers };
  const tensors = new Map<string, Tensor>();
  const quantized = new Set(layers);
  for (const [key, t] of model.tensors) {
    const layer = key.endsWith('.weight') ? key.slice(0, -'.weight'.length) : '';
    if (!quantized.has(layer)) {
      tensors.set(key, t);
      continue;
    }
    const { w, N, K } = weightMatrix(t, layer);
    const { q, scale } = weightBits === 8 ? q8Tensors(quantizeQ8(w, N, K, clip)) : q4Tensors(quantizeQ4(w, N, K, group, clip));
    tensors.set(`${layer}.weight.q`, q);
    tensors.set(`${layer}.weight.scale`, scale);
    if (opts.calib) tensors.set(`${layer}.act_scale`, f32Tensor([1], new Float32Array([opts.calib.scales[layer]])));
  }
  const meta = { ...model.meta, scheme: { ...scheme } };
  return { tensors, meta, metadata: encodeMeta(meta) };
}

// --- simulated quantization (sweeps) ---------------------------------------------------------------

/**
 * fakeQuantWeights: quantize-dequantize an (N, K) f32 weight to `bits` (2..8), per output channel (group 0) or in
 * groups of `group` along K; symmetric, qmax = 2^(bits-1) - 1, f32 scales. Returns new f32 weights.
 */
export function fakeQuantWeights(w: Float32Array, N: number, K: number, bits: number, group = 0, clip: 'minmax' | 'mse' = 'minmax'): Float32Array {
  if (!(Number.isInteger(bits) && bits >= 2 && bits <= 8)) schemeError(`simulated weight bits must be an integer 2..8, got ${bits}`);
  const G = group || K;
  if (!(Number.isInteger(G) && G > 0 && K % G === 0)) schemeError(`group ${group} does not divide K = ${K}`);
  if (w.length !== N * K) schemeError(`weight has ${w.length} values, expected N·K = ${N * K}`);
  const qmax = 2 ** (bits - 1) - 1;
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let g0 = 0; g0 < K; g0 += G) {
      const off = n * K + g0;
      const c = chooseClip(w, off, G, qmax, clip, Math.fround);
      if (!(c > 0)) continue;
      const s = Math.fround(c / qmax);
      for (let i = 0; i < G; i++) out[off + i] = Math.min(qmax, Math.max(-qmax, roundEven(w[off + i] / s))) * s;
    }
  }
  return out;
}

export interface SimulateOptions {
  weightBits: number; // 2..8
  actBits: number; // 2..8, or 32 for f32 activations
  group?: number; // 0 / absent = per channel
  clip?: 'minmax' | 'mse';
  patchEmbed?: boolean;
  head?: boolean;
}

/**
 * simulateModel: an f32 model whose quantizable weights are fake-quantized; scheme `sim` tells the engine to
 * fake-quantize each such layer's input per token to actBits (assembly/quant.ts fakeQuantActRows).
 */
export function simulateModel(model: ModelFile, opts: SimulateOptions): ModelFile {
  if (model.meta.scheme.name !== 'fp32') schemeError(`model is already quantized (${model.meta.scheme.name}); simulate on the fp32 model`);
  const a = opts.actBits;
  if (!(a === 32 || (Number.isInteger(a) && a >= 2 && a <= 8))) schemeError(`simulated activation bits must be 2..8 or 32, got ${a}`);
  const clip = opts.clip ?? 'minmax';
  const layers = quantizableLayers(model, opts);
  const tensors = new Map(model.tensors);
  for (const l of layers) {
    const t = model.tensors.get(`${l}.weight`)!;
    const { w, N, K } = weightMatrix(t, l);
    tensors.set(`${l}.weight`, f32Tensor([...t.shape], fakeQuantWeights(w, N, K, opts.weightBits, opts.group ?? 0, clip)));
  }
  const scheme: QuantScheme = { name: 'sim', weightBits: opts.weightBits, actBits: a, group: opts.group ?? 0, clip, act: 'dynamic', layers };
  const meta = { ...model.meta, scheme: { ...scheme } };
  return { tensors, meta, metadata: encodeMeta(meta) };
}

/** Per-token fake quantization of activations in JS (mirror of the wasm kernel; for tools without an engine). */
export function fakeQuantActRowsJs(x: Float32Array, M: number, K: number, bits: number): void {
  const qmax = Math.fround(2 ** (bits - 1) - 1);
  for (let m = 0; m < M; m++) {
    let mx = 0;
    for (let k = 0; k < K; k++) mx = Math.max(mx, Math.abs(x[m * K + k]));
    if (!(mx > 0)) continue;
    const s = Math.fround(mx / qmax);
    for (let k = 0; k < K; k++) x[m * K + k] = Math.fround(Math.min(qmax, Math.max(-qmax, roundEven(Math.fround(x[m * K + k] / s)))) * s);
  }
}
