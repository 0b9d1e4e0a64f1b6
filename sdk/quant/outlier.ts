// Outlier-aware 4-bit schemes `w4a8-oa` and `w4a4-oa`: the quantizer that writes their plan into a model file, and
// the engine kind that runs it (registered on import, so createClassifier runs these files in every build).
//
// Three measures, all chosen from the fp32 model and ID calibration images only (never OOD or test data):
// 1. Heavy-tailed layers run with 8-bit activations (w4a4-oa): a layer whose input has (max over channels) /
//    (median over channels) of max |x| above `ratio` (default 4) keeps int8 per-token activations; the rest stay int4.
//    In the shipped models these are the fc2 inputs (post-GELU: sparse, many large channels) and a few attn.proj.
//    Same int4 weights and kernel (a8 and a4 share the packed layout), so no extra latency.
// 2. 8-bit class tokens (w4a4-oa, `a8Tokens`, default: the class, distillation and register tokens): in every other
//    4-bit block layer the leading tokens' rows are quantized at 8 bits, the patch tokens at 4 (the per-token
//    quantizer makes rows independent). Those tokens become the feature every OOD score reads. Measured on the shipped
//    models (docs/results.md, sdk/study/outlier-scheme.ts) this is what recovers most of DeiT3's loss.
// 3. Optional static outlier channels (k > 0): a layer's input x (rows, K) is split by a fixed set O of k channels,
//      out = base(x with the channels O zeroed) + x[:, O] · W[:, O]ᵀ
//    with W's O columns zeroed before quantization and run in f32 (LLM.int8()-style decomposition, static set).
//    k defaults to 0 for w4a4-oa and 4 for w4a8-oa.
// Edges (patch embedding, heads) are quantized as in the plain base scheme (int8).
//
// File: the base scheme's tensors plus, per quantized block layer when k > 0,
//   `<layer>.outlier.idx`     I32 [k]      input channels kept in f32, ascending
//   `<layer>.outlier.weight`  F32 [N, k]   W[:, idx]
// Metadata scheme: { ...base scheme, name: 'w4a4-oa', ...OutlierPlan } (sdk/format/model.ts: base, a8Layers,
// a8Tokens, outlierChannels, ratio, madeFor, calib, layerRatios), validated against the config when read.
// The statistics come from sdk/quant/calibrate.ts (probeInputStats), kept out of this module so that the browser
// and Worker bundles, which only run these files, do not carry the dataset readers.

import { VitguardError } from '../errors.js';
import {
  encodeMeta, numPatches, numTokens, validateOutlierPlan, OUTLIER_AWARE_SCHEMES, type ModelFile, type OutlierPlan,
} from '../format/model.js';
import { f32Tensor, toFloat32, type Tensor } from '../format/safetensors.js';
import {
  F32_LINEAR, FLOAT_DTYPES, linearKindFor, registerScheme,
  type Linear, type LinearBuildContext, type LinearKind, type LinearSpec,
} from '../engine/linear.js';
import type { WasmInstance } from '../engine/wasm.js';
import { int4KindWithA8Tokens } from './linear.js';
import { quantizeModel, quantizableLayers } from './quantize.js';

export const OA_SCHEMES = OUTLIER_AWARE_SCHEMES;
export type OaSchemeName = (typeof OA_SCHEMES)[number];
export const DEFAULT_OUTLIER_CHANNELS: Record<OaSchemeName, number> = { 'w4a8-oa': 4, 'w4a4-oa': 0 };
export const DEFAULT_A8_RATIO = 4;
/** Calibration images the plan is chosen from (the first N of the calibration set), as `vitguard eval` does. */
export const DEFAULT_OA_CALIB_IMAGES = 64;

/** layer name → max |x| per input channel [K] over the calibration images (sdk/quant/calibrate.ts probeInputStats). */
export type ChannelStats = Map<string, Float32Array>;

export function isOutlierAwareScheme(s: string): s is OaSchemeName {
  return (OA_SCHEMES as readonly string[]).includes(s);
}

/** The k channels with the largest max |x|, ascending by index. */
export function topChannels(stat: Float32Array, k: number): Int32Array {
  if (!(Number.isInteger(k) && k >= 1 && k < stat.length)) throw new VitguardError('E_SCHEME', `outlier channel count ${k} must be an integer in 1..${stat.length - 1}`);
  const order = Array.from(stat.keys()).sort((a, b) => stat[b] - stat[a] || a - b);
  return Int32Array.from(order.slice(0, k).sort((a, b) => a - b));
}

/** (max over channels) / (median over channels) of a layer's per-channel max |x|. */
export function channelMaxRatio(stat: Float32Array): number {
  const a = Float64Array.from(stat).sort();
  const m = a.length >> 1;
  const med = a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
  return med > 0 ? a[a.length - 1] / med : Infinity;
}

// --- quantizing ---------------------------------------------------------------------------------------------------

export interface OaOptions {
  /** Outlier input channels per layer kept in f32 (default 4 for w4a8-oa, 0 for w4a4-oa). */
  channels?: number;
  /** w4a4-oa: layers whose input channel-max ratio (max / median) exceeds this run with 8-bit activations (default 4). */
  ratio?: number;
  /**
   * w4a4-oa: leading tokens of every image (class, distillation, registers) quantized at 8 bits in every 4-bit block layer.
   * Default: all of them (class, distillation and register tokens); 0 turns it off.
   */
  a8Tokens?: number;
  group?: number;
  clip?: 'minmax' | 'mse';
  /** Where the statistics came from, recorded in the plan (e.g. { spec: 'fashion-mnist:train:2000', images: 64 }). */
  calib?: { spec: string; images: number };
}

/** An outlier-aware quantized copy of an fp32 model; `stats` from probeInputStats on ID calibration images. */
export function quantizeOutlierAware(fp32: ModelFile, scheme: OaSchemeName, stats: ChannelStats, opts: OaOptions = {}): ModelFile {
  if (!isOutlierAwareScheme(scheme)) throw new VitguardError('E_SCHEME', `unknown outlier-aware scheme ${JSON.stringify(scheme)}: expected ${OA_SCHEMES.join(' or ')}`);
  const base = scheme.slice(0, -3);
  const k = opts.channels ?? DEFAULT_OUTLIER_CHANNELS[scheme];
  const ratio = opts.ratio ?? DEFAULT_A8_RATIO;
  const c = fp32.meta.config;
  const leading = numTokens(c) - numPatches(c);
  const a8Tokens = opts.a8Tokens ?? (base === 'w4a4' ? leading : 0);
  if (!(Number.isInteger(a8Tokens) && a8Tokens >= 0 && a8Tokens <= numTokens(c))) throw new VitguardError('E_SCHEME', `a8Tokens must be an integer in 0..${numTokens(c)}, got ${opts.a8Tokens}`);
  if (a8Tokens > 0 && base !== 'w4a4') throw new VitguardError('E_SCHEME', `a8Tokens applies to w4a4-oa only, not ${scheme}`);
  if (!(Number.isInteger(k) && k >= 0)) throw new VitguardError('E_SCHEME', `outlier channel count must be an integer ≥ 0, got ${k}`);
  if (!(typeof ratio === 'number' && ratio > 0)) throw new VitguardError('E_SCHEME', `ratio must be a positive number, got ${opts.ratio}`);
  const layers = quantizableLayers(fp32);
  const a8Layers: string[] = [];
  const layerRatios: Record<string, number> = {};
  const zeroed = new Map(fp32.tensors);
  const extra = new Map<string, Tensor>();
  for (const l of layers) {
    const st = stats.get(l);
    if (!st) throw new VitguardError('E_SCHEME', `no calibration statistics for ${l}: run probeInputStats on ID images first`);
    const t = fp32.tensors.get(`${l}.weight`)!;
    const w = toFloat32(t).slice();
    const N = t.shape[0], K = w.length / N;
    if (st.length !== K) throw new VitguardError('E_SCHEME', `${l}: statistics have ${st.length} channels, the weight has K = ${K}`);
    const r = channelMaxRatio(st);
    layerRatios[l] = Number.isFinite(r) ? Math.fround(r) : -1; // -1: median 0 (a dead input), JSON has no Infinity
    if (base === 'w4a4' && r > ratio) a8Layers.push(l);
    if (k === 0) continue;
    const idx = topChannels(st, k);
    const wo = new Float32Array(N * k);
    for (let n = 0; n < N; n++) {
      for (let j = 0; j < k; j++) {
        wo[n * k + j] = w[n * K + idx[j]];
        w[n * K + idx[j]] = 0;
      }
    }
    zeroed.set(`${l}.weight`, f32Tensor([...t.shape], w));
    extra.set(`${l}.outlier.idx`, { dtype: 'I32', shape: [k], bytes: new Uint8Array(idx.buffer) });
    extra.set(`${l}.outlier.weight`, f32Tensor([N, k], wo));
  }
  // edges as in the plain base scheme (int8 patch embedding and heads): only the block layers change
  const q = quantizeModel({ ...fp32, tensors: zeroed }, { scheme: base, group: opts.group, clip: opts.clip });
  for (const [name, t] of extra) q.tensors.set(name, t);
  const plan: OutlierPlan = {
    base, a8Layers, a8Tokens, outlierChannels: k, ratio,
    madeFor: { depth: c.depth, tokens: numTokens(c), dim: c.dim, mlpHidden: c.mlpHidden },
    ...(opts.calib ? { calib: { spec: opts.calib.spec, images: opts.calib.images } } : {}),
    layerRatios,
  };
  const meta = { ...q.meta, scheme: validateOutlierPlan({ ...q.meta.scheme, name: scheme, ...plan }, c) };
  return { tensors: q.tensors, meta, metadata: encodeMeta(meta) };
}

// --- the engine kind --------------------------------------------------------------------------------------------

interface OaScratch { copy: number; gathered: number; tmp: number }
const scratchOf = new WeakMap<WasmInstance, OaScratch>();

function oaScratch(ctx: LinearBuildContext, k: number): OaScratch {
  let s = scratchOf.get(ctx.wasm);
  if (!s) {
    const c = ctx.meta.config;
    const widest = Math.max(c.dim * 3, c.mlpHidden, c.numClasses, c.inChans * c.patch * c.patch);
    const { heap } = ctx.wasm;
    s = { copy: heap.alloc(ctx.maxRows * widest * 4), gathered: heap.alloc(ctx.maxRows * k * 4), tmp: heap.alloc(ctx.maxRows * widest * 4) };
    scratchOf.set(ctx.wasm, s);
  }
  return s;
}

class OutlierAwareLinear implements Linear {
  readonly kind: string;
  readonly bytes: number;
  private readonly base: Linear;
  private readonly idx: Int32Array;
  private readonly packed: number;
  private readonly s: OaScratch;

  constructor(readonly spec: LinearSpec, private readonly wasm: WasmInstance, ctx: LinearBuildContext, baseKind: LinearKind, name: string) {
    this.kind = name;
    const { heap, kernels } = wasm;
    const N = spec.outFeatures, K = spec.inFeatures;
    const it = ctx.tensors.get(`${spec.name}.outlier.idx`)!;
    this.idx = new Int32Array(it.bytes.slice().buffer);
    const k = this.idx.length;
    for (let j = 0; j < k; j++) {
      if (!(this.idx[j] >= 0 && this.idx[j] < K) || (j > 0 && this.idx[j] <= this.idx[j - 1])) {
        throw new VitguardError('E_TENSOR_SHAPE', `${spec.name}.outlier.idx must hold ascending channel indices in 0..${K - 1}, got ${Array.from(this.idx).join(',')}`);
      }
    }
    this.base = baseKind.create(spec, ctx);
    this.s = oaScratch(ctx, k);
    const pb = kernels.gemm_f32_packed_bytes(N, k);
    this.packed = heap.alloc(pb);
    const mark = heap.mark();
    const pw = heap.allocF32(toFloat32(ctx.tensors.get(`${spec.name}.outlier.weight`)!));
    const pz = heap.allocF32(new Float32Array(N));
    kernels.gemm_f32_pack(this.packed, pw, pz, N, k);
    heap.release(mark);
    this.bytes = this.base.bytes + pb;
  }

  // out (rows, N) = base(x with O zeroed) + x[:, O] (rows, k) · W_O (N, k)ᵀ
  run(inPtr: number, outPtr: number, rows: number): void {
    const { inFeatures: K, outFeatures: N } = this.spec;
    const { kernels, heap } = this.wasm;
    const idx = this.idx, k = idx.length;
    const { copy, gathered, tmp } = this.s;
    kernels.copy_f32(copy, inPtr, rows * K);
    const x = heap.f32(copy, rows * K);
    const g = heap.f32(gathered, rows * k);
    for (let r = 0; r < rows; r++) {
      const o = r * K;
      for (let j = 0; j < k; j++) {
        g[r * k + j] = x[o + idx[j]];
        x[o + idx[j]] = 0;
      }
    }
    this.base.run(copy, outPtr, rows);
    kernels.gemm_f32(tmp, gathered, this.packed, rows, N, k, k, N);
    kernels.add_f32(outPtr, outPtr, tmp, rows * N);
  }
}

/** Register w4a8-oa and w4a4-oa with the engine (idempotent; runs on import). */
export function registerOutlierAwareSchemes(): void {
  for (const name of OA_SCHEMES) {
    registerScheme(name, (spec, info) => {
      const base = info.base;
      const k = (info.outlierChannels ?? 0) as number;
      const a8Layers = (info.a8Layers ?? []) as unknown;
      const a8Tokens = (info.a8Tokens ?? 0) as number;
      if (!(Number.isInteger(a8Tokens) && a8Tokens >= 0)) throw new VitguardError('E_METADATA', `scheme ${name}: a8Tokens must be an integer ≥ 0, got ${JSON.stringify(info.a8Tokens)}`);
      if (typeof base !== 'string' || `${base}-oa` !== name) throw new VitguardError('E_METADATA', `scheme ${name} needs base "${name.slice(0, -3)}" in the model metadata, got ${JSON.stringify(base)}`);
      if (!Number.isInteger(k) || k < 0) throw new VitguardError('E_METADATA', `scheme ${name} needs an integer outlierChannels ≥ 0, got ${JSON.stringify(k)}`);
      if (!Array.isArray(a8Layers)) throw new VitguardError('E_METADATA', `scheme ${name}: a8Layers must be a list of layer names`);
      let baseKind = linearKindFor(spec, { ...info, name: base });
      if (baseKind === F32_LINEAR) return F32_LINEAR; // layers the scheme does not quantize
      // heavy-tailed inputs: same int4 weights, 8-bit activations
      if (a8Layers.includes(spec.name)) baseKind = linearKindFor(spec, { ...info, name: 'w4a8', actBits: 8 });
      else if (a8Tokens > 0 && spec.role === 'block') {
        // class tokens at 8 bits inside the 4-bit layer: same tensors, own run()
        if (base !== 'w4a4' || info.act !== 'dynamic') throw new VitguardError('E_METADATA', `scheme ${name}: a8Tokens applies to w4a4 with dynamic activations, got base ${base}, act ${JSON.stringify(info.act)}`);
        baseKind = int4KindWithA8Tokens({ ...info, name: base }, a8Tokens);
      }
      if (k === 0 || spec.role !== 'block') return baseKind; // edges (patch embedding, heads) keep the base format
      const inner = baseKind;
      return {
        kind: name,
        tensors: (sp) => [
          ...inner.tensors(sp),
          { name: `${sp.name}.outlier.idx`, shape: [k], dtypes: ['I32'] },
          { name: `${sp.name}.outlier.weight`, shape: [sp.outFeatures, k], dtypes: FLOAT_DTYPES },
        ],
        create: (sp, ctx) => new OutlierAwareLinear(sp, ctx.wasm, ctx, inner, name),
      };
    });
  }
}

registerOutlierAwareSchemes();
