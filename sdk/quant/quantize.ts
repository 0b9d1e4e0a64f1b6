// The quantizer: fp32 vitguard model → quantized model (formats.ts), and the simulated (quantize-dequantize) path
// for bit-width sweeps. Round-to-nearest-even; scales from min-max or from the MSE-best percentile clip.

import { VitguardError } from '../errors.js';
import type { ModelFile } from '../format/model.js';
import { encodeMeta } from '../format/model.js';
import { OOD_META_KEY } from '../ood/threshold.js';
import { f32Tensor, numel, toFloat32, type Tensor } from '../format/safetensors.js';
import {
  checkGroup, chooseClip, EDGE_FORMATS, quantizeQ4, quantizeQ8, q4Tensors, q8Tensors, roundEven, SCHEMES,
  type EdgeFormat, type QuantScheme, type SchemeName,
} from './formats.js';

export { SCHEMES } from './formats.js';
export type { EdgeFormat, QuantScheme, SchemeName } from './formats.js';

export interface QuantizeOptions {
  scheme: string;
  /** int4 group along K: 32 (default), 64 or 128. */
  group?: number;
  clip?: 'minmax' | 'mse';
  /** Static per-tensor activation scales (the input of each listed layer), from calibration: act becomes 'static'. */
  calib?: { scales: Record<string, number> };
  /**
   * Format of the patch embedding (as a (D, C·P·P) matrix) and the classifier head(s): 'int8' (Q8_PC, per output
   * channel; run as w8a8 with per-token activations), 'fp32', or 'int4' (the scheme's own Q4_G; int4 schemes only).
   * Default: 'int8' for the int4 schemes (w4a8, w4a16, w4a4: "8-bit edges"), 'fp32' for w8a8.
   */
  edges?: EdgeFormat;
  /** true: quantize the patch embedding / the head(s) at the scheme's own weight bits, whatever `edges` says. */
  patchEmbed?: boolean;
  head?: boolean;
}

/** Which layers a scheme quantizes, and how: `layers` at the scheme's weight bits, `int8Layers` in Q8_PC. */
export interface LayerPlan {
  layers: string[];
  int8Layers: string[];
  edges: EdgeFormat;
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

/** The default edge format of a scheme: int8 for the int4 schemes, fp32 otherwise. */
export function defaultEdges(scheme: string): EdgeFormat {
  return scheme === 'w4a8' || scheme === 'w4a16' || scheme === 'w4a4' ? 'int8' : 'fp32';
}

/**
 * The layer plan of a scheme in this model (file order). Without `scheme` the edges default to fp32 (the block
 * layers only, plus the edges asked for with patchEmbed/head), as for the simulated path.
 */
export function layerPlan(model: ModelFile, opts: { scheme?: string; edges?: EdgeFormat; patchEmbed?: boolean; head?: boolean } = {}): LayerPlan {
  const edges = opts.edges ?? (opts.scheme ? defaultEdges(opts.scheme) : 'fp32');
  if (!EDGE_FORMATS.includes(edges)) schemeError(`edges must be one of ${EDGE_FORMATS.join(', ')}, got ${JSON.stringify(edges)}`);
  const weightBits = opts.scheme ? BITS[parseSchemeName(opts.scheme)][0] : 0;
  if (edges === 'int4' && opts.scheme && weightBits !== 4) schemeError(`edges 'int4' applies to the int4 schemes (w4a8, w4a16, w4a4), not ${opts.scheme}`);
  // where an edge goes: 'scheme' = `layers` (the scheme's own bits), 'int8' = int8Layers, 'fp32' = left as is
  const place = (asked: boolean | undefined): 'scheme' | 'int8' | 'fp32' => {
    if (asked) return 'scheme';
    if (edges === 'fp32') return 'fp32';
    if (edges === 'int4' || (edges === 'int8' && (weightBits === 8 || !opts.scheme))) return 'scheme';
    return 'int8';
  };
  const heads = model.tensors.has('head_dist.weight') || model.tensors.has('head_dist.weight.q') ? ['head', 'head_dist'] : ['head'];
  const layers: string[] = [];
  const int8Layers: string[] = [];
  const add = (names: string[], where: 'scheme' | 'int8' | 'fp32') => {
    if (where === 'scheme') layers.push(...names);
    else if (where === 'int8') int8Layers.push(...names);
  };
  add(['patch_embed.proj'], place(opts.patchEmbed));
  for (let i = 0; i < model.meta.config.depth; i++) {
    layers.push(`blocks.${i}.attn.qkv`, `blocks.${i}.attn.proj`, `blocks.${i}.mlp.fc1`, `blocks.${i}.mlp.fc2`);
  }
  add(heads, place(opts.head));
  for (const l of [...layers, ...int8Layers]) {
    if (!model.tensors.has(`${l}.weight`)) {
      throw new VitguardError('E_TENSOR_MISSING', `cannot quantize ${l}: ${l}.weight is missing (is the model already quantized? scheme is ${model.meta.scheme.name})`);
    }
  }
  return { layers, int8Layers, edges };
}

/**
 * The linear layers (timm prefixes) a scheme quantizes at its own weight bits in this model, in file order: the
 * layers that take a calibrated activation scale. The int8 edges of int4 schemes are not among them (layerPlan).
 */
export function quantizableLayers(model: ModelFile, opts: { scheme?: string; edges?: EdgeFormat; patchEmbed?: boolean; head?: boolean } = {}): string[] {
  return layerPlan(model, opts).layers;
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
  const plan: LayerPlan = name === 'fp32' ? { layers: [], int8Layers: [], edges: 'fp32' } : layerPlan(model, opts);
  const { layers, int8Layers } = plan;
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
  if (weightBits === 4) {
    scheme.int8Layers = int8Layers;
    scheme.edges = plan.edges;
  }
  const tensors = new Map<string, Tensor>();
  const quantized = new Set(layers);
  const int8 = new Set(int8Layers);
  for (const [key, t] of model.tensors) {
    const layer = key.endsWith('.weight') ? key.slice(0, -'.weight'.length) : '';
    if (!quantized.has(layer) && !int8.has(layer)) {
      tensors.set(key, t);
      continue;
    }
    const { w, N, K } = weightMatrix(t, layer);
    const { q, scale } = weightBits === 8 || int8.has(layer) ? q8Tensors(quantizeQ8(w, N, K, clip)) : q4Tensors(quantizeQ4(w, N, K, group, clip));
    tensors.set(`${layer}.weight.q`, q);
    tensors.set(`${layer}.weight.scale`, scale);
    if (opts.calib && quantized.has(layer)) tensors.set(`${layer}.act_scale`, f32Tensor([1], new Float32Array([opts.calib.scales[layer]])));
  }
  return withScheme(model, tensors, scheme);
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
 * fake-quantize each such layer's input per token to actBits (assembly/quant.ts fake_quant_act_rows).
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
  return withScheme(model, tensors, scheme);
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

/**
 * The model with new tensors and scheme. A fitted OOD detector is dropped: its statistics and threshold belong to the
 * scheme it was fitted on (refit with `vitguard fit-ood --scheme`).
 */
function withScheme(model: ModelFile, tensors: Map<string, Tensor>, scheme: QuantScheme): ModelFile {
  const { [OOD_META_KEY]: _fittedOnAnotherScheme, ...extra } = model.meta.extra;
  const meta = { ...model.meta, scheme: { ...scheme }, extra };
  return { tensors, meta, metadata: encodeMeta(meta) };
}
