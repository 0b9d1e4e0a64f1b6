// vitguard's public API: one small typed surface, the same in browsers, Node and Cloudflare Workers.
//
//   const vg = await createClassifier({ model: 'models/fmnist-deit3.safetensors', worker: true });
//   const r = await vg.classify(pngBytes, { topK: 5 });   // { top, ood: { method, score, threshold, isOOD }, timings }
//   await vg.dispose();
//
// `worker: false` runs the Classifier in this thread (Cloudflare Workers, scripts, tests). `worker: true` runs it in a
// Web Worker (browser) or worker_threads (Node) through comlink, `workers: N` in a pool of N; images and results are
// transferred, not copied. Both modes return the same numbers: the worker runs the same Classifier on the same bytes.

import { Classifier, pickImageOptions, type ClassifierInfo, type ClassifyOptions, type ClassifyResult, type ImageInput, type ImageOptions } from './classifier.js';
import type { AttentionMode, WasmChoice, WasmSource } from './engine/index.js';
import { VitguardError } from './errors.js';
import { loadModelBytes, throwIfAborted, type LoadOptions, type ModelSource } from './load.js';
import { ModelBytes } from './model-bytes.js';
import type { RawImage } from './image/preprocess.js';
import { isWasmTrap, type Fault, type WireWasm, type WorkerInit } from './worker/protocol.js';
import { isNode } from './worker/spawn.js';
import type { WorkerPool } from './worker/pool.js';
import type { WorkerMemory } from './worker/service.js';
import './quant/index.js'; // registers the quantized linear kinds (w8a8, w4a8, …) with the engine

export { VitguardError, isVitguardError, type ErrorCode } from './errors.js';
export type { ClassifierInfo, ClassifyOptions, ClassifyResult, TopEntry, ImageInput } from './classifier.js';
export type { OodVerdict } from './ood/detector.js';
export type { AttentionMode, WasmChoice, WasmSource } from './engine/index.js';
export type { ThreadsInfo } from './engine/threads.js';
export type { RawImage } from './image/preprocess.js';
export { Classifier } from './classifier.js';
export type { ImageOptions } from './classifier.js';
export {
  decodeImage, readImageHeader, planDecode, DEFAULT_MAX_PIXELS, DEFAULT_MAX_DECODE_BYTES, EDGE_IMAGE_LIMITS,
  type DecodedImage, type DecodeOptions, type DecodePlan, type ImageHeader, type ImageLimits, type Orientation,
} from './image/decode.js';
export { readModel, encodeMeta, type ModelFile, type ModelMeta, type ViTConfig, type Preprocessing } from './format/model.js';
export { writeSafetensors } from './format/safetensors.js';
export { quantizeModel, SCHEMES, type QuantizeOptions, type SchemeName } from './quant/index.js';

// --- options and the classifier interface -----------------------------------------------------------------------

export { loadModelBytes, type ModelSource, type LoadOptions, type LoadProgress } from './load.js';

/** Anything `classify` accepts: decoded pixels (ImageData, {data,width,height,channels?}), PNG/JPEG bytes or Blob, or CHW. */
export type ClassifierImage = ImageInput | Blob;

/**
 * Also the model-loading options (LoadOptions, sdk/load.ts): onProgress, signal (cancels the download and a create in
 * progress: E_ABORTED), cache (Cache Storage), integrity ('sha256-<base64>'), maxModelBytes; and the image options
 * (ImageOptions, sdk/classifier.ts): maxPixels, maxDecodeBytes, autoOrient.
 */
export interface CreateOptions extends LoadOptions, ImageOptions {
  model: ModelSource;
  /** Which wasm build: 'auto' picks relaxed SIMD where the runtime validates it, else plain SIMD. */
  wasm?: WasmChoice;
  /** Folder holding vitguard.simd.wasm and vitguard.relaxed.wasm (browser: defaults to the bundle's own folder). */
  wasmBase?: string | URL;
  /** Explicit wasm per build: URLs, bytes or compiled modules (Cloudflare passes imported modules). Wins over wasmBase. */
  wasmSource?: WasmSource;
  /** Run the model in a worker (Web Worker / worker_threads). Default false. */
  worker?: boolean;
  /** Pool size when worker is true (default 1). Each worker holds its own copy of the model. */
  workers?: number;
  /** Largest batch classifyBatch sends in one forward (sizes the activation arena). */
  maxBatch?: number;
  /**
   * The most wasm memory (bytes) one copy of the model may hold — weights, activations and scratch — checked from the
   * model's config before anything is allocated: a model over it fails with E_MODEL_TOO_LARGE. Default 1 GiB.
   */
  maxMemoryBytes?: number;
  /**
   * Threads that run each forward (default 1): each GEMM's rows and the attention heads split across this thread and
   * threads − 1 more (worker_threads in Node; in a browser, Web Workers, which need a cross-origin-isolated page:
   * Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp). The same numbers as one
   * thread. Where threads cannot run (a page that is not isolated, Cloudflare Workers) one thread runs; info().threads
   * says how many were asked for, how many run, and why. With worker: true, each worker runs its own threads.
   */
  threads?: number;
  /**
   * The attention path: 'f32' (default) or 'int8' (q, k, v quantized per token and head, q·kᵀ and P·v on the integer
   * dot kernels; meant for the quantized schemes: docs/attention.md has its speed and its accuracy and OOD deltas).
   * info() reports it.
   */
  attention?: AttentionMode;
  /** Worker mode: hand the input buffers to the worker (the caller's copy is detached). Default true. */
  transfer?: boolean;
  /** Worker mode: where the worker entry script lives, if a bundler moved it. */
  workerUrl?: string | URL;
  /** Worker mode: a call running longer than this (ms) terminates its worker and fails with E_WORKER. Default 0 = none. */
  timeoutMs?: number;
}

export interface VitguardClassifier {
  classify(image: ClassifierImage, opts?: ClassifyOptions): Promise<ClassifyResult>;
  classifyBatch(images: ClassifierImage[], opts?: ClassifyOptions): Promise<ClassifyResult[]>;
  /** The pre-logit feature [embedDim]: the class token after the final norm. */
  embed(image: ClassifierImage): Promise<Float32Array>;
  /** Class-token attention over the patch grid (last layer, and rollout), for a heatmap: each [grid·grid]. */
  attention(image: ClassifierImage): Promise<NonNullable<ClassifyResult['attention']>>;
  info(): Promise<ClassifierInfo & { mode: 'in-thread' | 'worker'; workers: number }>;
  /** Free the model and the workers. Every later call fails with E_DISPOSED. */
  dispose(): Promise<void>;
  /** Which mode this classifier runs in. */
  readonly mode: 'in-thread' | 'worker';
}

// --- loading --------------------------------------------------------------------------------------------------

/**
 * The browser bundle's own wasm assets: rollup.config.mjs replaces this marker with literal
 * `new URL` calls naming each wasm file relative to import.meta.url, which an app's bundler follows and emits.
 */
const BUNDLED_WASM: WasmSource | undefined = /*@vitguard-wasm-urls*/ undefined;

/**
 * What Classifier.create takes from the options (in this thread, and again for a rebuild after a trap). keepModel:
 * false: the engine lets the file go once its weights are laid out; InThreadClassifier rebuilds after a trap.
 */
function classifierOptions(o: CreateOptions) {
  return { keepModel: false, wasm: o.wasm, wasmSource: wasmSourceFor(o), maxBatch: o.maxBatch, maxMemoryBytes: o.maxMemoryBytes, threads: o.threads, attention: o.attention, ...pickImageOptions(o) };
}

function wasmSourceFor(o: CreateOptions): WasmSource | undefined {
  if (o.wasmSource) return o.wasmSource;
  const base = o.wasmBase;
  // no base: the bundle's assets (browser), or the engine's own default (Node: the package's build/ folder)
  if (base === undefined) return isNode ? undefined : BUNDLED_WASM;
  const b = new URL(String(base), (globalThis as { location?: { href: string } }).location?.href);
  if (!b.pathname.endsWith('/')) b.pathname += '/';
  return { simd: new URL('vitguard.simd.wasm', b), relaxed: new URL('vitguard.relaxed.wasm', b), 'simd-mt': new URL('vitguard.simd-mt.wasm', b), 'relaxed-mt': new URL('vitguard.relaxed-mt.wasm', b) } as unknown as WasmSource;
}

/** WasmSource → what may cross to a worker: URLs as strings; bytes and compiled modules as they are. */
function wasmSourceToWire(s: WasmSource | undefined): WorkerInit['wasmSource'] {
  if (!s) return undefined;
  const one = (x: unknown): WireWasm | undefined => (x instanceof URL ? x.href : (x as WireWasm | undefined));
  const r = s as unknown as Record<string, unknown>;
  return { simd: one(r.simd), relaxed: one(r.relaxed), 'simd-mt': one(r['simd-mt']), 'relaxed-mt': one(r['relaxed-mt']) };
}

// --- images -----------------------------------------------------------------------------------------------------

/** Blob → bytes; ImageData → a plain RawImage; anything else as is. */
async function normaliseImage(image: ClassifierImage): Promise<ImageInput> {
  if (image === null || typeof image !== 'object') throw new VitguardError('E_INPUT', `an image must be pixels, PNG/JPEG bytes, a Blob or {chw}, got ${image === null ? 'null' : typeof image}`);
  if (typeof Blob !== 'undefined' && image instanceof Blob) return new Uint8Array(await image.arrayBuffer());
  if (typeof ImageData !== 'undefined' && image instanceof ImageData) return { data: image.data, width: image.width, height: image.height, channels: 4 };
  return image as ImageInput;
}

/** A copy of the image for the worker, or the image itself with its buffers listed for transfer. */
function forTransfer(image: ImageInput, move: boolean, list: Transferable[]): ImageInput {
  const own = (v: ArrayBufferView): boolean => v.buffer instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength;
  const take = <V extends ArrayBufferView>(v: V): V => {
    if (move && own(v)) { if (!list.includes(v.buffer as ArrayBuffer)) list.push(v.buffer as ArrayBuffer); return v; }
    return v; // structured clone copies what is not transferred
  };
  if (image instanceof ArrayBuffer) { if (move && !list.includes(image)) list.push(image); return image; }
  if (image instanceof Uint8Array) return take(image);
  if ('chw' in image) return { chw: take(image.chw) };
  const raw = image as RawImage;
  return { data: take(raw.data), width: raw.width, height: raw.height, channels: raw.channels };
}

// --- the two modes ----------------------------------------------------------------------------------------------

/**
 * In this thread. A wasm trap discards the Classifier and builds a fresh one from the model's bytes. Only the engine's
 * wasm memory holds the model (keepModel: false); the file's bytes are kept only where nothing else would give them
 * back (sdk/model-bytes.ts), so a rebuild gets the same model or fails with E_INTEGRITY.
 */
class InThreadClassifier implements VitguardClassifier {
  readonly mode = 'in-thread' as const;
  private disposed = false;
  private rebuilding: Promise<void> | null = null;
  /** How many times a trapped instance was rebuilt (for tests and diagnostics). */
  rebuilds = 0;
  /** The classifier was discarded after a trap and its rebuild failed: the next call rebuilds first. */
  private stale = false;

  constructor(private clf: Classifier, private readonly model: ModelBytes, private readonly opts: CreateOptions) {}

  private async run<T>(name: string, fn: (c: Classifier) => T): Promise<T> {
    if (this.disposed) throw new VitguardError('E_DISPOSED', `${name}() after dispose(): create a new classifier`);
    if (this.rebuilding) await this.rebuilding;
    if (this.stale) { // the last rebuild failed (the model could not be read again): try again, or fail as it did
      this.rebuilding = this.rebuild();
      await this.rebuilding;
    }
    try {
      return fn(this.clf);
    } catch (e) {
      // a raw trap, or one the engine caught (it discarded its instance and keeps no model to rebuild it from)
      if (!isWasmTrap(e) && !this.clf.engine.needsModel) throw e;
      this.rebuilding = this.rebuild();
      await this.rebuilding;
      throw new VitguardError('E_WASM', `wasm trap in ${name}(): ${(e as Error).message} (the instance was rebuilt; retry the call)`, { cause: e });
    }
  }

  private async rebuild(): Promise<void> {
    this.stale = true;
    try { this.clf.dispose(); } catch { /* a trapped instance may fail to free: it is dropped either way */ }
    try {
      this.clf = await Classifier.create(await this.model.get(), classifierOptions(this.opts));
      this.stale = false;
      this.rebuilds++;
    } finally {
      this.rebuilding = null;
    }
  }

  async classify(image: ClassifierImage, opts: ClassifyOptions = {}) {
    const im = await normaliseImage(image);
    return this.run('classify', (c) => c.classify(im, opts));
  }
  async classifyBatch(images: ClassifierImage[], opts: ClassifyOptions = {}) {
    const ims = await Promise.all(images.map(normaliseImage));
    return this.run('classifyBatch', (c) => c.classifyBatch(ims, opts));
  }
  async embed(image: ClassifierImage) {
    const im = await normaliseImage(image);
    return this.run('embed', (c) => Float32Array.from(c.embed(im)));
  }
  async attention(image: ClassifierImage) {
    const im = await normaliseImage(image);
    return this.run('attention', (c) => c.attention(im));
  }
  async info() {
    return this.run('info', (c) => ({ ...c.info(), mode: this.mode, workers: 0 }));
  }
  /** Test hook: run fn against the live Classifier as a call would (a trap inside it triggers the rebuild). */
  async _run<T>(fn: (c: Classifier) => T): Promise<T> { return this.run('_run', fn); }
  async dispose() {
    if (this.disposed) return;
    this.disposed = true;
    if (this.rebuilding) await this.rebuilding.catch(() => {});
    this.clf.dispose();
  }
}

/** In a pool of workers (see worker/pool.ts for how every call settles). */
class WorkerClassifier implements VitguardClassifier {
  readonly mode = 'worker' as const;
  constructor(readonly pool: WorkerPool, private readonly move: boolean) {}

  private async send<T>(method: 'classify' | 'embed' | 'attention', image: ClassifierImage, extra: unknown[] = []): Promise<T> {
    const list: Transferable[] = [];
    const im = forTransfer(await normaliseImage(image), this.move, list);
    return this.pool.call<T>(method, [im, ...extra], list);
  }

  classify(image: ClassifierImage, opts: ClassifyOptions = {}) { return this.send<ClassifyResult>('classify', image, [opts]); }
  async classifyBatch(images: ClassifierImage[], opts: ClassifyOptions = {}) {
    const list: Transferable[] = [];
    const ims = (await Promise.all(images.map(normaliseImage))).map((im) => forTransfer(im, this.move, list));
    return this.pool.call<ClassifyResult[]>('classifyBatch', [ims, opts], list);
  }
  embed(image: ClassifierImage) { return this.send<Float32Array>('embed', image); }
  attention(image: ClassifierImage) { return this.send<NonNullable<ClassifyResult['attention']>>('attention', image); }
  async info() {
    const i = await this.pool.call<ClassifierInfo>('info', []);
    return { ...i, mode: this.mode, workers: this.pool.size };
  }
  /** Test hook: ask a worker for a fault ('trap' | 'exit' | 'hang'). */
  _fault(kind: Fault, ms?: number) { return this.pool.call<null>('fault', [kind, ms]); }
  /** Diagnostics hook (bench/memory.ts): one worker's JS heap after a GC and its wasm memory; concurrent calls reach different workers. */
  _memory() { return this.pool.call<WorkerMemory>('memory', []); }
  dispose() { return this.pool.dispose(); }
}

// --- the entry point --------------------------------------------------------------------------------------------

export async function createClassifier(opts: CreateOptions): Promise<VitguardClassifier> {
  if (!opts || opts.model === undefined || opts.model === null) throw new VitguardError('E_INPUT', 'createClassifier needs { model }: a URL, a path (Node), an ArrayBuffer, a Uint8Array or a Blob');
  const wasm = opts.wasm ?? 'auto';
  if (wasm !== 'auto' && wasm !== 'simd' && wasm !== 'relaxed') throw new VitguardError('E_INPUT', `wasm must be 'auto', 'simd' or 'relaxed', got ${String(wasm)}`);
  if (opts.workers !== undefined && !opts.worker) throw new VitguardError('E_INPUT', 'workers: N needs worker: true');
  const bytes = await loadModelBytes(opts.model, opts);
  // opts.signal also cancels the create that follows the download: what was built by then is freed
  if (!opts.worker) {
    const clf = await Classifier.create(bytes, classifierOptions({ ...opts, wasm }));
    if (opts.signal?.aborted) clf.dispose();
    throwIfAborted(opts.signal);
    return new InThreadClassifier(clf, new ModelBytes(bytes, opts.model, opts), { ...opts, wasm });
  }
  const { WorkerPool } = await import('./worker/pool.js');
  throwIfAborted(opts.signal);
  const pool = await WorkerPool.create({
    size: opts.workers ?? 1,
    init: { model: bytes, wasm, wasmSource: wasmSourceToWire(wasmSourceFor(opts)), maxBatch: opts.maxBatch, maxMemoryBytes: opts.maxMemoryBytes, threads: opts.threads, attention: opts.attention, ...pickImageOptions(opts) },
    workerUrl: opts.workerUrl,
    timeoutMs: opts.timeoutMs,
    // replacements load the model again where it can be had again (a path, URL or Blob: sdk/model-bytes.ts)
    model: new ModelBytes(bytes, opts.model, opts),
  });
  if (opts.signal?.aborted) await pool.dispose();
  throwIfAborted(opts.signal);
  return new WorkerClassifier(pool, opts.transfer ?? true);
}
