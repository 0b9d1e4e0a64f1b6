// The forward pass of ViT / DeiT (distilled) / DeiT3, with or without class token, register tokens and an
// average-pooled head (timm's reg_token, global_pool 'avg', fc_norm), on the wasm kernels.
//
// Memory: weights are laid into one wasm instance at load (linear layers packed by their Linear kind, everything
// else as f32), then one activation arena is sized from the config and maxBatch. A forward writes the input into
// the arena, runs the kernels and copies the results out: nothing is allocated in wasm per image.
// Order: a forward is a sequence of regions of kernel calls (program.ts) that an Executor runs — in order, timed
// per op (setProfile), or split across threads: per block one region over attention heads and one over token rows
// (proj … fc2 and the next block's norm1 + qkv: every op in it reads only its own row).
// A wasm trap discards the instance; the next call builds a fresh one from the model file (kept by reference; with
// keepModel: false the file is let go after loading and the owner builds a new engine instead: needsModel).

import { VitguardError } from '../errors.js';
import { numPatches, numTokens, readModel, tokenLayout, type ModelFile, type ModelMeta, type ViTConfig } from '../format/model.js';
import { expectedTensors } from '../model/arch.js';
import { FLOAT_DTYPES, finiteFloat32, linearKindFor, linearOp, type Int4Memory, type Linear, type LinearKind, type LinearSpec, type TensorSpec } from './linear.js';
import { allocFloatTensor } from './weights.js';
import { ProfilingExecutor, SerialExecutor, splitRows, type Executor, type KernelCall, type Profile, type Region, type RowStep } from './program.js';
import { MAX_THREADS, ThreadPool, threadsUnsupported, type ThreadsInfo } from './threads.js';
import { instantiate, loadWasmModule, pickBuild, releaseInstance, type WasmBuild, type WasmChoice, type WasmInstance, type WasmSource } from './wasm.js';

export interface EngineOptions {
  wasm?: WasmChoice;
  wasmSource?: WasmSource;
  /** Most images one pass runs (the GEMMs see maxBatch · tokens rows). Default 1. */
  maxBatch?: number;
  /**
   * How int4 weights (w4a8, w4a4) are held in wasm memory: 'compact' = the file's nibbles (0.625 byte/weight with
   * scales; unpacked in registers on the relaxed build, one 8-column panel at a time into scratch on the simd build);
   * 'fast' = expanded once at load to i16 panels (2 bytes/weight); 'auto' (default) = 'compact', as fast as 'fast' on
   * both builds. docs/quantization.md.
   */
  int4Memory?: Int4Memory;
  /**
   * The attention path: 'f32' (default: the shipped results, the parity with PyTorch) or 'int8' — q, k and v
   * quantized per token and head, q·kᵀ and P·v on the integer dot kernels, softmax in f32 with the probabilities
   * quantized 0..255 per row (assembly/attention_q8.ts; accuracy and OOD deltas in docs/attention.md). Any scheme
   * takes either; int8 is meant for the quantized ones. Same bits on the simd and relaxed builds.
   */
  attention?: AttentionMode;
  /**
   * The most wasm linear memory (bytes) this engine may hold: weights, activation arena and scratch together; the
   * same bound covers the per-image preprocessing planes and the per-layer outputs a forward is asked for.
   * A model file is untrusted input: its config, not its size, sets the arena (attention alone is heads·T² floats)
   * and the resize target (imgSize / cropPct), so a 500 KB file can ask for gigabytes. Over the limit, create()
   * fails with E_MODEL_TOO_LARGE — from the config before anything is allocated, or at the allocation that would
   * pass it. Default DEFAULT_MAX_MEMORY_BYTES (1 GiB).
   */
  maxMemoryBytes?: number;
  /**
   * Threads that run each forward (default 1): each GEMM's rows and the attention heads are split across this thread
   * and threads − 1 pool workers (Node worker_threads, Web Workers) on one shared wasm memory (the `-mt` binaries).
   * The results are the same bits as on one thread. Where threads cannot run (no SharedArrayBuffer: a page that is not
   * cross-origin isolated, Cloudflare Workers; no threaded binary in wasmSource; workers that cannot start) the engine
   * runs on one thread: Engine.threads says how many were asked for, how many run, and why.
   */
  threads?: number;
  /**
   * Keep the model file's tensors once the weights are laid out (default true): a wasm trap is then recovered here,
   * the next call rebuilding the instance from them. false lets them go, the file's size less memory for the engine's
   * life; after a trap such an engine answers E_WASM until its owner builds a new one (`needsModel` says so): the
   * classifier re-reads its model, a worker pool replaces the worker.
   */
  keepModel?: boolean;
}

/** Default EngineOptions.maxMemoryBytes: 1 GiB, room for deit_base in fp32 (346 MB of weights) at maxBatch 32. */
export const DEFAULT_MAX_MEMORY_BYTES = 2 ** 30;

export type AttentionMode = 'f32' | 'int8';
export const ATTENTION_MODES: readonly AttentionMode[] = ['f32', 'int8'];

export interface ForwardOptions {
  /** Per-layer attention probabilities [heads, T, T]. */
  attention?: boolean;
  /** Per-layer L2 norm of every token of the block output [T]. */
  tokenNorms?: boolean;
  /** Per-layer copy of the residual stream after the block [T, D] (massive-activation diagnostics). */
  hidden?: boolean;
}

export interface ForwardResult {
  logits: Float32Array; // [numClasses]; distilled: (head(cls) + head_dist(dist)) / 2
  feature: Float32Array; // [dim]: the head's input: class token after the final norm, or (avg pool) the patch mean normed
  attention?: Float32Array[]; // per layer [heads, T, T]
  tokenNorms?: Float32Array[]; // per layer [T]
  hidden?: Float32Array[]; // per layer [T, D]: residual stream after the block
}

// --- the graph's linear layers ------------------------------------------------------------------------------

export function linearSpecs(c: ViTConfig): LinearSpec[] {
  const D = c.dim;
  const specs: LinearSpec[] = [
    { name: 'patch_embed.proj', inFeatures: c.inChans * c.patch * c.patch, outFeatures: D, weightShape: [D, c.inChans, c.patch, c.patch], role: 'patch' },
  ];
  for (let i = 0; i < c.depth; i++) {
    const b = `blocks.${i}.`;
    specs.push(
      { name: b + 'attn.qkv', inFeatures: D, outFeatures: 3 * D, weightShape: [3 * D, D], role: 'block' },
      { name: b + 'attn.proj', inFeatures: D, outFeatures: D, weightShape: [D, D], role: 'block' },
      { name: b + 'mlp.fc1', inFeatures: D, outFeatures: c.mlpHidden, weightShape: [c.mlpHidden, D], role: 'block' },
      { name: b + 'mlp.fc2', inFeatures: c.mlpHidden, outFeatures: D, weightShape: [D, c.mlpHidden], role: 'block' },
    );
  }
  specs.push({ name: 'head', inFeatures: D, outFeatures: c.numClasses, weightShape: [c.numClasses, D], role: 'head' });
  if (c.distilled) specs.push({ name: 'head_dist', inFeatures: D, outFeatures: c.numClasses, weightShape: [c.numClasses, D], role: 'head' });
  return specs;
}

function listNames(names: string[]): string {
  return names.length <= 6 ? names.join(', ') : `${names.slice(0, 6).join(', ')} and ${names.length - 6} more`;
}

/**
 * Check that the file holds exactly the tensors the config and scheme need, with the right shapes and dtypes.
 * Returns the kind of every linear layer.
 */
export function validateModel(file: ModelFile): Map<string, LinearKind> {
  const c = file.meta.config;
  // Every block holds at least 8 tensors (two norms' weight and bias, four linear layers): a depth the file cannot hold
  // is refused here, before the expected names are listed (config.depth 1048576 took minutes and gigabytes to list).
  if (8 * c.depth > file.tensors.size) {
    throw new VitguardError('E_TENSOR_MISSING', `model (${file.meta.arch}) says depth ${c.depth}, which needs at least ${8 * c.depth} tensors, but the file has ${file.tensors.size}`);
  }
  const kinds = new Map<string, LinearKind>();
  const linearTensors = new Set<string>();
  const want: TensorSpec[] = [];
  for (const spec of linearSpecs(c)) {
    const kind = linearKindFor(spec, file.meta.scheme);
    kinds.set(spec.name, kind);
    linearTensors.add(`${spec.name}.weight`).add(`${spec.name}.bias`);
    want.push(...kind.tensors(spec));
  }
  for (const [name, shape] of expectedTensors(c)) {
    if (!linearTensors.has(name)) want.push({ name, shape, dtypes: FLOAT_DTYPES });
  }
  const wanted = new Set(want.map((t) => t.name));
  const missing = want.filter((t) => !file.tensors.has(t.name)).map((t) => t.name);
  if (missing.length) {
    throw new VitguardError('E_TENSOR_MISSING', `model (${file.meta.arch}, scheme ${file.meta.scheme.name}) lacks ${missing.length} tensor(s) its config needs: ${listNames(missing)}`);
  }
  const unknown = [...file.tensors.keys()].filter((n) => !wanted.has(n));
  if (unknown.length) {
    throw new VitguardError('E_TENSOR_UNKNOWN', `model (${file.meta.arch}, scheme ${file.meta.scheme.name}) has ${unknown.length} tensor(s) its config does not use: ${listNames(unknown)} (wrong config, or a checkpoint of another architecture?)`);
  }
  for (const t of want) {
    const got = file.tensors.get(t.name)!;
    if (got.shape.length !== t.shape.length || got.shape.some((d, i) => d !== t.shape[i])) {
      throw new VitguardError('E_TENSOR_SHAPE', `tensor ${t.name} has shape ${JSON.stringify(got.shape)}, the config needs ${JSON.stringify(t.shape)}`);
    }
    if (!t.dtypes.includes(got.dtype)) {
      throw new VitguardError('E_TENSOR_SHAPE', `tensor ${t.name} has dtype ${got.dtype}, expected ${t.dtypes.join(' or ')}`);
    }
  }
  return kinds;
}

// --- state: one instance with its weights and arena ---------------------------------------------------------

interface Block {
  norm1: [number, number]; // gamma, beta pointers
  norm2: [number, number];
  ls1: number; // layer-scale gamma pointer, 0 = none
  ls2: number;
  qkv: Linear;
  proj: Linear;
  fc1: Linear;
  fc2: Linear;
}

interface Arena {
  img: number; // [B, C, S, S]
  cols: number; // [B·Np, C·P·P] im2col
  x: number; // [B·T, D] residual stream
  h: number; // [B·T, D] normed
  qkv: number; // [B·T, 3D]
  att: number; // [B·T, D] attention output
  f: number; // [B·T, D] branch output (patch embedding, proj, fc2)
  mlp: number; // [B·T, H]
  scratch: number; // attention scratch, one attention_scratch_bytes per thread
  scratchBytes: number;
  probs: number; // [heads, T, T]
  norms: number; // [B·T]
  featCls: number; // [B, D]: the head's input (class token or pooled patches, normed)
  featDist: number; // [B, D]
  logits: number; // [B, classes]
  logitsDist: number; // [B, classes]
}

interface State {
  inst: WasmInstance;
  patch: Linear;
  head: Linear;
  headDist: Linear | null;
  tokenInit: number; // [T, D]: class (+dist) (+registers) rows with their position embedding, then the patches' positions
  norm: [number, number]; // the final LayerNorm: `norm` (before pooling) or `fc_norm` (after)
  blocks: Block[];
  arena: Arena;
  exec: Executor;
  /** What was laid out (model shapes and options): the key under which a released instance is taken back. */
  layout: string;
}

/** Floats of the activation arena (everything buildState allocates after the weights, but the attention scratch). */
function arenaFloats(c: ViTConfig, maxBatch: number): number {
  const T = numTokens(c), Np = numPatches(c), R = maxBatch * T;
  return maxBatch * c.inChans * c.imgSize * c.imgSize + maxBatch * Np * c.inChans * c.patch * c.patch + R * c.dim * 7 +
    R * c.mlpHidden + c.heads * T * T + R + 2 * maxBatch * (c.dim + c.numClasses);
}

/**
 * A lower bound on the memory a model needs (bytes): its tensors as stored, the arena, and the two square float
 * planes preprocessing resizes every image into (short side floor(imgSize / cropPct), all channels). Checked before
 * any instance exists, so a file whose config asks for far more than it carries costs nothing to refuse.
 */
export function plannedMemoryBytes(file: ModelFile, maxBatch: number): number {
  let weights = 0;
  for (const t of file.tensors.values()) weights += t.bytes.byteLength;
  const c = file.meta.config;
  const resized = Math.floor(c.imgSize / file.meta.preprocessing.cropPct + 1e-9);
  return weights + 4 * arenaFloats(c, maxBatch) + 4 * 2 * c.inChans * resized * resized;
}

function buildState(file: ModelFile, kinds: Map<string, LinearKind>, module: WebAssembly.Module, build: WasmBuild, maxBatch: number, int4Memory: Int4Memory, maxMemoryBytes: number, pool: ThreadPool | null = null): State {
  // about what the layout takes: every tensor at least as large as stored (int8 weights twice that: they are held as
  // i16), then the arena
  let stored = 0;
  for (const t of file.tensors.values()) stored += t.bytes.byteLength * (t.dtype === 'I8' ? 2 : 1);
  const c0 = file.meta.config;
  const planned = stored + 4 * arenaFloats(c0, maxBatch);
  // a released instance of this module that held the same layout is taken back, its pages already faulted in
  // (wasm.ts releaseInstance); a threaded engine always starts its own
  const layout = pool ? '' : JSON.stringify([planned, maxBatch, int4Memory, file.meta.scheme.name, c0.dim, c0.depth, c0.heads, c0.mlpHidden, c0.numClasses, numTokens(c0)]);
  const inst = instantiate(module, build, maxMemoryBytes, layout);
  const { heap } = inst;
  // grow memory once to that size (the rest grows in MiB steps) instead of once per tensor: hundreds of memory.grow
  // calls cost tens of ms at load
  heap.reserve(heap.used + planned);
  const c = file.meta.config;
  const D = c.dim, T = numTokens(c), Np = numPatches(c), extra = T - Np;
  const f32 = (name: string) => finiteFloat32(name, file.tensors.get(name)!);
  const put = (name: string) => allocFloatTensor(inst, name, file.tensors.get(name)!); // checked in wasm (weights.ts)
  const specs = new Map(linearSpecs(c).map((s) => [s.name, s]));
  // threads: the pool's workers instantiate on this instance's (shared) memory; it runs alone until they have
  const exec: Executor = pool ? pool.attach(inst.kernels, inst.kernels.memory) : new SerialExecutor(inst.kernels);
  const ctx = { wasm: inst, tensors: file.tensors, meta: file.meta, maxRows: maxBatch * T, int4Memory, threads: exec.threads };
  const linear = (name: string) => kinds.get(name)!.create(specs.get(name)!, ctx);

  // token rows before the first block, in timm's order (_pos_embed): [cls] [dist] [reg × R] then the patches; the
  // position embedding covers every row, or (no_embed_class) the patches only.
  const t = tokenLayout(c);
  const pos = f32('pos_embed');
  const init = new Float32Array(T * D);
  let row = 0;
  if (t.classToken) init.set(f32('cls_token'), D * row++);
  if (c.distilled) init.set(f32('dist_token'), D * row++);
  if (t.regTokens) init.set(f32('reg_token'), D * row);
  if (c.noEmbedClass) {
    init.set(pos, extra * D);
  } else {
    for (let i = 0; i < T * D; i++) init[i] += pos[i];
  }
  const tokenInit = heap.allocF32(init);

  const patch = linear('patch_embed.proj');
  const blocks: Block[] = [];
  for (let i = 0; i < c.depth; i++) {
    const b = `blocks.${i}.`;
    blocks.push({
      norm1: [put(b + 'norm1.weight'), put(b + 'norm1.bias')],
      norm2: [put(b + 'norm2.weight'), put(b + 'norm2.bias')],
      ls1: c.layerScale ? put(b + 'ls1.gamma') : 0,
      ls2: c.layerScale ? put(b + 'ls2.gamma') : 0,
      qkv: linear(b + 'attn.qkv'),
      proj: linear(b + 'attn.proj'),
      fc1: linear(b + 'mlp.fc1'),
      fc2: linear(b + 'mlp.fc2'),
    });
  }
  const normName = t.fcNorm ? 'fc_norm' : 'norm';
  const norm: [number, number] = [put(`${normName}.weight`), put(`${normName}.bias`)];
  const head = linear('head');
  const headDist = c.distilled ? linear('head_dist') : null;

  const R = maxBatch * T;
  const fl = (n: number) => heap.alloc(n * 4);
  // per thread, room for either attention path (EngineOptions.attention)
  const scratchBytes = Math.ceil(Math.max(inst.kernels.attention_scratch_bytes(T, D, c.heads), inst.kernels.attention_q8_scratch_bytes(T, D / c.heads)) / 64) * 64;
  const imgLen = c.inChans * c.imgSize * c.imgSize;
  const arena: Arena = {
    img: fl(maxBatch * imgLen),
    cols: fl(maxBatch * Np * c.inChans * c.patch * c.patch),
    x: fl(R * D),
    h: fl(R * D),
    qkv: fl(R * 3 * D),
    att: fl(R * D),
    f: fl(R * D),
    mlp: fl(R * c.mlpHidden),
    scratch: heap.alloc(exec.threads * scratchBytes),
    scratchBytes,
    probs: fl(c.heads * T * T),
    norms: fl(R),
    featCls: fl(maxBatch * D),
    featDist: fl(maxBatch * D),
    logits: fl(maxBatch * c.numClasses),
    logitsDist: fl(maxBatch * c.numClasses),
  };
  // the file's tensors are not the layers' to keep (an engine with keepModel: false lets them go), even for a kind
  // registered elsewhere that holds on to its build context
  ctx.tensors = new Map();
  return { inst, patch, head, headDist, tokenInit, norm, blocks, arena, exec, layout };
}

// --- the forward as regions ---------------------------------------------------------------------------------

/** Steps of layers without calls() (they run JavaScript): a region holding one runs on one thread. */
const jsSteps = new WeakSet<RowStep>();

/** rows [r0, r1) of out = lin(in). */
function linearStep(lin: Linear, inPtr: number, outPtr: number): RowStep {
  if (lin.calls) return (r0, r1, t) => lin.calls!(inPtr, outPtr, r0, r1, t);
  const { inFeatures: K, outFeatures: N } = lin.spec;
  const step: RowStep = (r0, r1) => [{ op: linearOp(lin.spec), fn: '', args: [], js: () => lin.run(inPtr + r0 * K * 4, outPtr + r0 * N * 4, r1 - r0) }];
  jsSteps.add(step);
  return step;
}

function rowRegion(rows: number, steps: RowStep[]): Region {
  return { rows, steps, serial: steps.some((s) => jsSteps.has(s)) };
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** For each image b with rows in [lo, hi) of its T-row block ∩ [r0, r1): f(b, first row, count). */
function eachImageSpan(r0: number, r1: number, T: number, lo: number, hi: number, f: (b: number, r: number, count: number) => void): void {
  for (let b = Math.floor(r0 / T); b * T < r1; b++) {
    const s0 = Math.max(r0, b * T + lo), s1 = Math.min(r1, b * T + hi);
    if (s1 > s0) f(b, s0, s1 - s0);
  }
}

// --- the engine ---------------------------------------------------------------------------------------------

/** An engine dropped without dispose() still ends its pool workers when it is collected. */
const poolReaper = new FinalizationRegistry<ThreadPool>((pool) => pool.dispose());

export class Engine {
  readonly meta: ModelMeta;
  readonly wasm: WasmBuild;
  readonly maxBatch: number;
  private attn: AttentionMode = 'f32';
  private state: State | null;
  private disposed = false;
  /** false: created with keepModel: false, so a trapped instance cannot be rebuilt here. */
  private modelKept = true;
  private profile: Profile | null = null;
  private readonly threadsInfo: ThreadsInfo;

  private constructor(
    private file: ModelFile,
    private readonly kinds: Map<string, LinearKind>,
    private readonly module: WebAssembly.Module,
    build: WasmBuild,
    maxBatch: number,
    private readonly int4Memory: Int4Memory,
    private readonly maxMemoryBytes: number,
    private readonly pool: ThreadPool | null = null,
    threads: ThreadsInfo = { requested: 1, used: 1 },
  ) {
    this.meta = file.meta;
    this.wasm = build;
    this.maxBatch = maxBatch;
    this.threadsInfo = threads;
    this.state = buildState(file, kinds, module, build, maxBatch, int4Memory, maxMemoryBytes, pool);
  }

  static async create(model: Uint8Array | ArrayBuffer | ModelFile, opts: EngineOptions = {}): Promise<Engine> {
    const file = model instanceof Uint8Array || model instanceof ArrayBuffer ? readModel(model) : model;
    const maxBatch = opts.maxBatch ?? 1;
    if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > 1024) {
      throw new VitguardError('E_INPUT', `maxBatch must be an integer in 1..1024, got ${maxBatch}`);
    }
    const int4Memory = opts.int4Memory ?? 'auto';
    if (int4Memory !== 'auto' && int4Memory !== 'compact' && int4Memory !== 'fast') {
      throw new VitguardError('E_INPUT', `int4Memory must be 'auto', 'compact' or 'fast', got ${JSON.stringify(int4Memory)}`);
    }
    const attention = opts.attention ?? 'f32';
    if (!ATTENTION_MODES.includes(attention)) {
      throw new VitguardError('E_INPUT', `attention must be 'f32' or 'int8', got ${JSON.stringify(attention)}`);
    }
    const maxMemoryBytes = opts.maxMemoryBytes ?? DEFAULT_MAX_MEMORY_BYTES;
    if (!(typeof maxMemoryBytes === 'number' && maxMemoryBytes > 0)) {
      throw new VitguardError('E_INPUT', `maxMemoryBytes must be a positive number of bytes, got ${JSON.stringify(maxMemoryBytes)}`);
    }
    const kinds = validateModel(file);
    const planned = plannedMemoryBytes(file, maxBatch);
    if (planned > maxMemoryBytes) {
      const c = file.meta.config;
      throw new VitguardError('E_MODEL_TOO_LARGE', `model ${file.meta.arch} needs at least ${(planned / 2 ** 20).toFixed(1)} MiB ` +
        `(${numTokens(c)} tokens × dim ${c.dim}, ${c.heads} heads, maxBatch ${maxBatch}, images resized to ` +
        `${Math.floor(c.imgSize / file.meta.preprocessing.cropPct + 1e-9)} px), over the maxMemoryBytes limit of ` +
        `${(maxMemoryBytes / 2 ** 20).toFixed(1)} MiB: raise it only for a model you trust, or lower maxBatch`);
    }
    const threads = opts.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
      throw new VitguardError('E_INPUT', `threads must be an integer in 1..${MAX_THREADS}, got ${JSON.stringify(threads)}`);
    }
    const build = pickBuild(opts.wasm ?? 'auto');
    const info: ThreadsInfo = { requested: threads, used: 1 };
    let pool: ThreadPool | null = null;
    let module: WebAssembly.Module | null = null;
    if (threads > 1) {
      const mt = `${build}-mt` as const;
      info.reason = threadsUnsupported() ??
        (opts.wasmSource && opts.wasmSource[mt] === undefined ? `wasmSource has no '${mt}' binary (the threaded build)` : undefined);
      if (info.reason === undefined) {
        try {
          module = await loadWasmModule(mt, opts.wasmSource);
          pool = await ThreadPool.start(threads, module);
        } catch (e) {
          module = null;
          info.reason = `threads could not start: ${(e as Error).message}`;
        }
      }
    }
    if (!module) module = await loadWasmModule(build, opts.wasmSource);
    let engine: Engine;
    try {
      engine = new Engine(file, kinds, module, build, maxBatch, int4Memory, maxMemoryBytes, pool, info);
    } catch (e) {
      pool?.dispose();
      // a shared memory with room for maxMemoryBytes may not be had (a 32-bit browser's address space): one thread
      if (!pool || !(e instanceof VitguardError) || e.code !== 'E_WASM') throw e;
      info.reason = `threads could not start: ${e.message}`;
      pool = null;
      engine = new Engine(file, kinds, await loadWasmModule(build, opts.wasmSource), build, maxBatch, int4Memory, maxMemoryBytes, null, info);
    }
    if (pool) {
      try {
        await pool.ready();
        info.used = threads;
        poolReaper.register(engine, pool, engine);
      } catch (e) {
        // the instance stays (a threaded binary runs as well on one thread); the pool goes
        pool.dispose();
        info.reason = `the thread pool did not start: ${(e as Error).message}`;
      }
    }
    engine.attn = attention;
    if (opts.keepModel === false) {
      engine.file = { ...file, tensors: new Map() }; // the meta stays; the tensors (views of the file) go
      engine.modelKept = false;
    }
    return engine;
  }

  /** True once a wasm trap discarded the instance of an engine created with keepModel: false: it needs a new engine. */
  get needsModel(): boolean {
    return !this.modelKept && !this.state && !this.disposed;
  }

  /** Threads asked for, threads used, and why fewer (EngineOptions.threads); one from when a pool worker died. */
  get threads(): ThreadsInfo {
    const broken = this.pool?.broken;
    if (broken && this.threadsInfo.used > 1) return { requested: this.threadsInfo.requested, used: 1, reason: `the thread pool stopped: ${broken}` };
    return { ...this.threadsInfo };
  }

  /** The attention path (EngineOptions.attention). */
  get attention(): AttentionMode {
    return this.attn;
  }

  /** Image side, channels and token count the engine expects. */
  get inputShape(): [number, number, number] {
    const c = this.meta.config;
    return [c.inChans, c.imgSize, c.imgSize];
  }

  /** Bytes of wasm linear memory this engine holds (weights + arena). */
  memoryBytes(): number {
    return this.state ? this.state.inst.heap.memoryBytes : 0;
  }

  dispose(): void {
    // a healthy single-threaded instance goes back for the next engine of this module (wasm.ts releaseInstance)
    if (this.state && !this.pool) releaseInstance(this.module, this.state.inst, this.state.layout);
    this.state = null;
    this.disposed = true;
    if (this.pool) {
      poolReaper.unregister(this);
      this.pool.dispose();
    }
  }

  /** One image: chw [C, imgSize, imgSize], already normalised. */
  forward(chw: Float32Array, opts: ForwardOptions = {}): ForwardResult {
    return this.forwardBatch(chw, 1, opts)[0];
  }

  /** n images stacked [n, C, imgSize, imgSize]; runs maxBatch at a time. */
  forwardBatch(chw: Float32Array, n: number, opts: ForwardOptions = {}): ForwardResult[] {
    if (this.disposed) throw new VitguardError('E_DISPOSED', 'this Engine was disposed; create a new one');
    const [C, S] = this.inputShape;
    const imgLen = C * S * S;
    if (!(chw instanceof Float32Array)) throw new VitguardError('E_INPUT', `input must be a Float32Array [n, ${C}, ${S}, ${S}], got ${Object.prototype.toString.call(chw)}`);
    if (!Number.isInteger(n) || n < 1) throw new VitguardError('E_INPUT', `image count must be a positive integer, got ${n}`);
    if (chw.length !== n * imgLen) {
      throw new VitguardError('E_INPUT', `input has ${chw.length} floats; ${n} image(s) of [${C}, ${S}, ${S}] need ${n * imgLen}`);
    }
    const c = this.meta.config, T = numTokens(c);
    // per-layer outputs live in JS, not in the arena: bound them by the same limit (attention is heads·T² per layer)
    const perLayer = (opts.attention ? c.heads * T * T : 0) + (opts.hidden ? T * c.dim : 0) + (opts.tokenNorms ? T : 0);
    if (4 * n * c.depth * perLayer > this.maxMemoryBytes) {
      throw new VitguardError('E_MODEL_TOO_LARGE', `the per-layer outputs asked for (${n} image(s) × ${c.depth} layers × ${perLayer} floats) need more than ` +
        `the maxMemoryBytes limit of ${(this.maxMemoryBytes / 2 ** 20).toFixed(1)} MiB: ask for fewer images at a time`);
    }
    for (let i = 0; i < chw.length; i++) {
      if (!Number.isFinite(chw[i])) {
        const img = Math.floor(i / imgLen), r = i % imgLen;
        throw new VitguardError('E_NONFINITE', `input image ${img} has ${chw[i]} at channel ${Math.floor(r / (S * S))}, y ${Math.floor((r % (S * S)) / S)}, x ${r % S}`);
      }
    }
    const out: ForwardResult[] = [];
    for (let i = 0; i < n; i += this.maxBatch) {
      const m = Math.min(this.maxBatch, n - i);
      out.push(...this.guarded(() => this.run(chw.subarray(i * imgLen, (i + m) * imgLen), m, opts)));
    }
    return out;
  }

  /** Runs fn on a live instance; a wasm trap discards the instance (rebuilt on the next call) and becomes E_WASM. */
  private guarded<T>(fn: () => T): T {
    if (!this.state) {
      if (!this.modelKept) {
        throw new VitguardError('E_WASM', 'this engine\'s wasm instance trapped and was discarded, and it was created with keepModel: false, so it cannot rebuild it: create the engine again from the model');
      }
      try {
        this.state = buildState(this.file, this.kinds, this.module, this.wasm, this.maxBatch, this.int4Memory, this.maxMemoryBytes, this.pool);
      } catch (e) {
        if (e instanceof VitguardError) throw e;
        throw new VitguardError('E_WASM', `rebuilding the wasm instance failed: ${(e as Error).message}`, { cause: e });
      }
    }
    try {
      return fn();
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError || e instanceof RangeError) {
        this.state = null;
        const next = this.modelKept ? 'is rebuilt on the next call' : 'its owner builds a new one (keepModel: false)';
        throw new VitguardError('E_WASM', `wasm trapped during the forward pass (${(e as Error).message}); the instance was discarded and ${next}`, { cause: e });
      }
      throw e;
    }
  }

  /**
   * Time every kernel call of the forwards that follow into `profile` (ms and calls per op kind; one thread, in
   * order); null stops. For `npm run bench -- --profile`.
   */
  setProfile(profile: Profile | null): void {
    this.profile = profile;
  }

  // The whole model on one screen: n ≤ maxBatch images already checked.
  private run(chw: Float32Array, n: number, opts: ForwardOptions): ForwardResult[] {
    const st = this.state!;
    const { kernels: k, heap } = st.inst;
    const ex = this.profile ? new ProfilingExecutor(k, this.profile) : st.exec;
    if (this.profile) this.profile.forwards += n;
    const a = st.arena;
    const c = this.meta.config;
    const D = c.dim, H = c.mlpHidden, T = numTokens(c), Np = numPatches(c), extra = T - Np, heads = c.heads;
    const R = n * T;
    const imgLen = c.inChans * c.imgSize * c.imgSize;
    const colsLen = Np * c.inChans * c.patch * c.patch;
    const results: ForwardResult[] = Array.from({ length: n }, () => ({
      logits: new Float32Array(0),
      feature: new Float32Array(0),
      ...(opts.attention ? { attention: [] as Float32Array[] } : {}),
      ...(opts.tokenNorms ? { tokenNorms: [] as Float32Array[] } : {}),
      ...(opts.hidden ? { hidden: [] as Float32Array[] } : {}),
    }));
    const row = (p: number, r: number, width = D) => p + r * width * 4;

    // patch embedding: im2col + GEMM → f [n·Np, D]
    heap.writeF32(a.img, chw);
    ex.run({ items: n, step: (b) => [{ op: 'tokens', fn: 'patch_im2col', args: [a.cols + b * colsLen * 4, a.img + b * imgLen * 4, c.inChans, c.imgSize, c.patch] }] });
    ex.run(rowRegion(n * Np, [linearStep(st.patch, a.cols, a.f)]));

    // x = [cls, (dist), (registers), patches] + position embeddings, row by row
    const tokens: RowStep = (r0, r1) => {
      const calls: KernelCall[] = [];
      eachImageSpan(r0, r1, T, 0, extra, (b, r, cnt) => calls.push({ op: 'tokens', fn: 'copy_f32', args: [row(a.x, r), row(st.tokenInit, r - b * T), cnt * D] }));
      eachImageSpan(r0, r1, T, extra, T, (b, r, cnt) => calls.push({ op: 'tokens', fn: 'add_f32', args: [row(a.x, r), row(a.f, b * Np + r - b * T - extra), row(st.tokenInit, r - b * T), cnt * D] }));
      return calls;
    };
    const layernorm = (out: number, g: [number, number]): RowStep => (r0, r1) => [{ op: 'layernorm', fn: 'layernorm', args: [row(out, r0), row(a.x, r0), g[0], g[1], r1 - r0, D, c.eps] }];
    const residual = (gamma: number): RowStep => (r0, r1) => [{ op: 'residual', fn: 'residual_add', args: [row(a.x, r0), row(a.f, r0), gamma, r1 - r0, D] }];
    const gelu: RowStep = (r0, r1) => [{ op: 'gelu', fn: 'gelu', args: [row(a.mlp, r0, H), row(a.mlp, r0, H), (r1 - r0) * H] }];
    const norms: RowStep = (r0, r1) => [{ op: 'residual', fn: 'token_l2_norms', args: [a.norms + r0 * 4, row(a.x, r0), r1 - r0, D] }];
    const scale = Math.fround(1 / Math.fround(Math.sqrt(D / heads)));
    // head h of image b: S = q kᵀ, softmax(S / √hd), out_h = S v; S in this thread's scratch, or the probabilities
    // f32 attention on several threads: each head in blocks of query rows, as many as make heads × blocks a multiple
    // of the thread count (deit_tiny's 3 heads on 2 threads: 6 items, 3 each, not 2 and 1); the _rows kernels give the
    // same bits as the whole head. One block on one thread, and for the int8 path.
    const qBlocks = this.attn === 'int8' || ex.threads === 1 ? [[0, T]] : splitRows(T, ex.threads / gcd(heads, ex.threads));
    const nb = qBlocks.length;
    const attention = (b: number, h: number, t: number, probs: number, blk = 0): KernelCall[] => {
      const qkv = a.qkv + b * T * 3 * D * 4, sc = a.scratch + t * a.scratchBytes;
      if (this.attn === 'int8') {
        // the same head in int8 (attention_q8.ts): q̂ k̂ v̂ and S in this thread's scratch; probabilities copied out in f32
        return [
          { op: 'attn_quant', fn: 'attention_q8_quant', args: [sc, qkv, T, D, heads, h] },
          { op: 'attn_qk', fn: 'attention_q8_qk', args: [sc, T, D / heads, scale] },
          { op: 'attn_softmax', fn: 'attention_q8_softmax', args: [sc, T, D / heads, probs ? probs + h * T * T * 4 : 0] },
          { op: 'attn_pv', fn: 'attention_q8_pv', args: [row(a.att, b * T), sc, T, D, heads, h] },
        ];
      }
      // f32: S in the scratch (or the probabilities' buffer), left as e by the softmax and normalised in P·v (1/Σe in
      // the pack scratch pk); attention_probs then turns e into the probabilities where they are asked for
      const S = probs ? probs + h * T * T * 4 : sc, pk = sc + T * T * 4;
      const [r0, r1] = qBlocks[blk];
      return [
        { op: 'attn_qk', fn: 'attention_scores_rows', args: [S, qkv, pk, T, D, heads, h, r0, r1] },
        { op: 'attn_softmax', fn: 'attention_softmax_rows', args: [S, pk, T, scale, r0, r1] },
        { op: 'attn_pv', fn: 'attention_pv_rows', args: [row(a.att, b * T), S, qkv, pk, T, D, heads, h, r0, r1] },
        ...(probs ? [{ op: 'attn_softmax' as const, fn: 'attention_probs_rows', args: [S, pk, T, r0, r1] }] : []),
      ];
    };

    // blocks: x += ls1 ⊙ proj(attn(norm1(x)));  x += ls2 ⊙ fc2(gelu(fc1(norm2(x)))). A block's MLP half runs in one
    // region with the next block's norm1 + qkv (they do not change x), so its outputs are read after that region.
    const collect = (i: number) => {
      if (opts.tokenNorms) for (let b = 0; b < n; b++) results[b].tokenNorms!.push(heap.readF32(a.norms + b * T * 4, T));
      if (opts.hidden) for (let b = 0; b < n; b++) results[b].hidden!.push(heap.readF32(row(a.x, b * T), T * D));
      return i;
    };
    let pending: RowStep[] = [tokens];
    let pendingBlock = -1;
    st.blocks.forEach((blk, i) => {
      ex.run(rowRegion(R, [...pending, layernorm(a.h, blk.norm1), linearStep(blk.qkv, a.h, a.qkv)]));
      if (pendingBlock >= 0) collect(pendingBlock);
      if (opts.attention) {
        for (let b = 0; b < n; b++) {
          ex.run({ items: heads * nb, step: (j, t) => attention(b, Math.floor(j / nb), t, a.probs, j % nb) });
          results[b].attention!.push(heap.readF32(a.probs, heads * T * T));
        }
      } else {
        ex.run({ items: n * heads * nb, step: (j, t) => attention(Math.floor(j / (heads * nb)), Math.floor(j / nb) % heads, t, 0, j % nb) });
      }
      pending = [
        linearStep(blk.proj, a.att, a.f), residual(blk.ls1), layernorm(a.h, blk.norm2),
        linearStep(blk.fc1, a.h, a.mlp), gelu, linearStep(blk.fc2, a.mlp, a.f), residual(blk.ls2),
        ...(opts.tokenNorms ? [norms] : []),
      ];
      pendingBlock = i;
    });
    ex.run(rowRegion(R, pending));
    collect(pendingBlock);

    // the head's input: 'token' = final norm of the class (and distillation) token; 'avg' = mean of the patch tokens
    // (never the class or register tokens: timm's global_pool_nlc drops num_prefix_tokens), normed after pooling
    // (fc_norm) or before (norm on every patch row, then the mean); image b's temporaries in its rows of h
    const { globalPool, fcNorm } = tokenLayout(c);
    const [g, beta] = st.norm;
    ex.run({
      items: n,
      step: (b) => {
        const xb = row(a.x, b * T), hb = row(a.h, b * T), feat = row(a.featCls, b);
        if (globalPool === 'token') {
          const calls: KernelCall[] = [{ op: 'layernorm', fn: 'layernorm', args: [feat, xb, g, beta, 1, D, c.eps] }];
          if (st.headDist) calls.push({ op: 'layernorm', fn: 'layernorm', args: [row(a.featDist, b), row(xb, 1), g, beta, 1, D, c.eps] });
          return calls;
        }
        if (fcNorm) {
          return [
            { op: 'tokens', fn: 'mean_rows', args: [hb, row(xb, extra), Np, D] },
            { op: 'layernorm', fn: 'layernorm', args: [feat, hb, g, beta, 1, D, c.eps] },
          ];
        }
        return [
          { op: 'layernorm', fn: 'layernorm', args: [hb, row(xb, extra), g, beta, Np, D, c.eps] },
          { op: 'tokens', fn: 'mean_rows', args: [feat, hb, Np, D] },
        ];
      },
    });
    ex.run(rowRegion(n, [linearStep(st.head, a.featCls, a.logits), ...(st.headDist ? [linearStep(st.headDist, a.featDist, a.logitsDist)] : [])]));
    const NC = c.numClasses;
    for (let b = 0; b < n; b++) {
      const logits = heap.readF32(a.logits + b * NC * 4, NC);
      if (st.headDist) {
        const d = heap.f32(a.logitsDist + b * NC * 4, NC);
        for (let j = 0; j < NC; j++) logits[j] = (logits[j] + d[j]) / 2;
      }
      results[b].logits = logits;
      results[b].feature = heap.readF32(a.featCls + b * D * 4, D);
    }
    return results;
  }
}
