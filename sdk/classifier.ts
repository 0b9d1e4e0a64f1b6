// The in-thread classifier: Engine + preprocessing + OOD verdict. The public API (sdk/index.ts) serves it either
// directly or from a worker; the CLI and the demos all go through it, so every front end gives the same answers.

import { VitguardError } from './errors.js';
import { numPrefixTokens, readModel, tokenLayout, type ModelFile } from './format/model.js';
import { Engine, type AttentionMode, type WasmChoice, type WasmSource } from './engine/index.js';
import type { ThreadsInfo } from './engine/threads.js';
import { preprocess, type RawImage } from './image/preprocess.js';
import { checkDecodeOptions, decodeImage } from './image/decode.js';
import { loadDetector, mspVerdict, type OodVerdict, type Detector } from './ood/detector.js';
import { softmax } from './ood/scorers.js';
import './quant/index.js'; // registers the quantized linear kinds (w8a8, w4a8, w4a16, w4a4) with the engine

export interface TopEntry { index: number; label: string; prob: number }

export interface ClassifyResult {
  top: TopEntry[];
  ood: OodVerdict;
  timings: { preprocessMs: number; inferMs: number };
  logits?: Float32Array;
  /** Class-token attention over the patch grid [grid, grid], last layer averaged over heads (when asked). */
  attention?: { grid: number; map: Float32Array; rollout: Float32Array };
}

export interface ClassifyOptions { topK?: number; attention?: boolean; logits?: boolean }

/**
 * How encoded images (PNG/JPEG bytes) are decoded (sdk/image/decode.ts): maxPixels (default 120 MP) and
 * maxDecodeBytes (default 512 MiB) are checked from the header before decoding (E_IMAGE_TOO_LARGE); autoOrient
 * (default true) turns photos upright from their EXIF orientation. Large images are decoded reduced to what the
 * model's preprocessing needs (a short side of at least 2·floor(imgSize / cropPct)). A 128 MB isolate (Cloudflare
 * Workers) wants EDGE_IMAGE_LIMITS, the defaults of the workerd build.
 */
export interface ImageOptions { maxPixels?: number; maxDecodeBytes?: number; autoOrient?: boolean }

/** The image options among any options object (so callers can pass theirs through unchanged). */
export function pickImageOptions(o: ImageOptions): ImageOptions {
  const out: ImageOptions = {};
  if (o.maxPixels !== undefined) out.maxPixels = o.maxPixels;
  if (o.maxDecodeBytes !== undefined) out.maxDecodeBytes = o.maxDecodeBytes;
  if (o.autoOrient !== undefined) out.autoOrient = o.autoOrient;
  return out;
}

/** What an image may be: decoded pixels, encoded PNG/JPEG bytes, or a normalised CHW tensor at the model's size. */
export type ImageInput = RawImage | Uint8Array | ArrayBuffer | { chw: Float32Array };

export interface ClassifierInfo {
  arch: string;
  scheme: string;
  wasm: string;
  /** The attention path (CreateOptions.attention): 'f32' or 'int8'. */
  attention: AttentionMode;
  labels: string[];
  imgSize: number;
  inChans: number;
  memoryBytes: number;
  ood: { method: string; fitted: boolean };
  /** Threads asked for (CreateOptions.threads), threads that run each forward, and why fewer where fewer. */
  threads: ThreadsInfo;
}

const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

export function topK(logits: ArrayLike<number>, k: number, labels: string[]): TopEntry[] {
  const p = softmax(logits);
  const idx = Array.from(p.keys()).sort((a, b) => p[b] - p[a] || a - b);
  return idx.slice(0, Math.max(1, Math.min(k, p.length))).map((i) => ({ index: i, label: labels[i], prob: p[i] }));
}

export class Classifier {
  private constructor(readonly engine: Engine, readonly model: ModelFile, private readonly detector: Detector | null, private readonly image: ImageOptions) {}

  static async create(model: Uint8Array | ArrayBuffer | ModelFile, opts: { wasm?: WasmChoice; wasmSource?: WasmSource; maxBatch?: number; maxMemoryBytes?: number; threads?: number; attention?: AttentionMode; keepModel?: boolean } & ImageOptions = {}): Promise<Classifier> {
    const image = pickImageOptions(opts);
    checkDecodeOptions(image); // bad limits fail here (E_INPUT), not at the first image
    const file = model instanceof Uint8Array || model instanceof ArrayBuffer ? readModel(model) : model;
    const engine = await Engine.create(file, opts);
    // keepModel: false (EngineOptions): nothing here holds the file's tensors either, only its meta
    const kept = opts.keepModel === false ? { ...file, tensors: new Map() } : file;
    return new Classifier(engine, kept, loadDetector(file.meta), image);
  }

  info(): ClassifierInfo {
    const m = this.model.meta;
    return {
      arch: m.arch,
      scheme: m.scheme.name,
      wasm: this.engine.wasm,
      attention: this.engine.attention,
      labels: m.labels,
      imgSize: m.config.imgSize,
      inChans: m.config.inChans,
      memoryBytes: this.engine.memoryBytes(),
      threads: { ...this.engine.threads },
      ood: { method: this.detector?.method ?? 'msp', fitted: this.detector !== null },
    };
  }

  /** Image → normalised CHW at the model's input size. */
  toTensor(image: ImageInput): Float32Array {
    const { config, preprocessing } = this.model.meta;
    if (image instanceof Uint8Array || image instanceof ArrayBuffer) {
      // decodeImage always returns RGBA (its `channels` says what the file held): tell preprocess 4 channels. It decodes
      // large photos reduced, keeping the short side ≥ 2× what preprocess resizes it to (the same expression).
      const minShortSide = Math.floor(config.imgSize / preprocessing.cropPct + 1e-9);
      const d = decodeImage(image instanceof Uint8Array ? image : new Uint8Array(image), { ...this.image, minShortSide });
      image = { data: d.data, width: d.width, height: d.height, channels: 4 };
    }
    if ('chw' in image) {
      const want = config.inChans * config.imgSize * config.imgSize;
      if (!(image.chw instanceof Float32Array) || image.chw.length !== want) {
        throw new VitguardError('E_INPUT', `a CHW input must be a Float32Array of ${config.inChans}×${config.imgSize}×${config.imgSize} = ${want} values, got ${image.chw?.length}`);
      }
      return image.chw;
    }
    return preprocess(image, preprocessing, config.imgSize, config.inChans);
  }

  classify(image: ImageInput, opts: ClassifyOptions = {}): ClassifyResult {
    const t0 = now();
    const chw = this.toTensor(image);
    const t1 = now();
    const out = this.engine.forward(chw, { attention: opts.attention });
    const t2 = now();
    return this.result(out, opts, { preprocessMs: t1 - t0, inferMs: t2 - t1 });
  }

  classifyBatch(images: ImageInput[], opts: ClassifyOptions = {}): ClassifyResult[] {
    const t0 = now();
    const { config } = this.model.meta;
    const per = config.inChans * config.imgSize * config.imgSize;
    const chw = new Float32Array(per * images.length);
    images.forEach((im, i) => chw.set(this.toTensor(im), i * per));
    const t1 = now();
    const outs = this.engine.forwardBatch(chw, images.length, { attention: opts.attention });
    const t2 = now();
    const timings = { preprocessMs: (t1 - t0) / images.length, inferMs: (t2 - t1) / images.length };
    return outs.map((o) => this.result(o, opts, timings));
  }

  /** The pre-logit feature (class token after the final norm). */
  embed(image: ImageInput): Float32Array {
    return this.engine.forward(this.toTensor(image)).feature;
  }

  attention(image: ImageInput): NonNullable<ClassifyResult['attention']> {
    return this.classify(image, { attention: true }).attention!;
  }

  dispose(): void {
    this.engine.dispose();
  }

  private result(out: ReturnType<Engine['forward']>, opts: ClassifyOptions, timings: ClassifyResult['timings']): ClassifyResult {
    const { labels } = this.model.meta;
    const r: ClassifyResult = {
      top: topK(out.logits, opts.topK ?? 5, labels),
      ood: this.detector ? this.detector.judge(out.logits, out.feature) : mspVerdict(out.logits),
      timings,
    };
    if (opts.logits) r.logits = out.logits;
    if (opts.attention && out.attention) r.attention = classTokenAttention(out.attention, this.model.meta.config);
    return r;
  }
}

/**
 * Class-token attention over the patch grid: the last layer's row for the class token averaged over heads, and the
 * attention rollout (Abnar & Zuidema 2020: product over layers of ½(A + I), heads averaged, rows renormalised).
 * Patch tokens follow the class, distillation and register tokens. A model without a class token (average-pooled
 * head) reads every patch equally, so its map is the mean of the patch tokens' rows instead.
 */
export function classTokenAttention(attn: Float32Array[], c: ModelFile['meta']['config']): NonNullable<ClassifyResult['attention']> {
  const grid = c.imgSize / c.patch;
  const P = grid * grid;
  const first = numPrefixTokens(c); // patch tokens start after the class, distillation and register tokens
  const T = P + first;
  const queries = tokenLayout(c).classToken ? [0] : Array.from({ length: P }, (_, j) => first + j);
  const rowOf = (m: Float64Array, j: number) => queries.reduce((s, q) => s + m[q * T + j], 0) / queries.length;
  const mean = (a: Float32Array) => {
    const m = new Float64Array(T * T);
    for (let h = 0; h < c.heads; h++) for (let i = 0; i < T * T; i++) m[i] += a[h * T * T + i] / c.heads;
    return m;
  };
  const last = mean(attn[attn.length - 1]);
  const map = new Float32Array(P);
  for (let j = 0; j < P; j++) map[j] = rowOf(last, first + j);
  // rollout
  let roll = new Float64Array(T * T);
  for (let i = 0; i < T; i++) roll[i * T + i] = 1;
  for (const a of attn) {
    const m = mean(a);
    for (let i = 0; i < T; i++) m[i * T + i] += 1;
    for (let i = 0; i < T; i++) {
      let s = 0;
      for (let j = 0; j < T; j++) s += m[i * T + j];
      for (let j = 0; j < T; j++) m[i * T + j] /= s;
    }
    const next = new Float64Array(T * T);
    for (let i = 0; i < T; i++) for (let k = 0; k < T; k++) {
      const v = m[i * T + k];
      if (v === 0) continue;
      for (let j = 0; j < T; j++) next[i * T + j] += v * roll[k * T + j];
    }
    roll = next;
  }
  const rollout = new Float32Array(P);
  for (let j = 0; j < P; j++) rollout[j] = rowOf(roll, first + j);
  return { grid, map, rollout };
}
