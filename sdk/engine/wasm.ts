// Loading the kernel binaries, choosing simd vs relaxed, and the typed view of their exports.
// Two binaries are built from one AssemblyScript source (asconfig.json): `simd` (SIMD128, everywhere) and `relaxed`
// (SIMD128 + relaxed SIMD: Chrome/Edge 114+, Firefox 145+, Node 21+, workerd; Node 20 only with a flag).

import { VitguardError } from '../errors.js';

export type WasmBuild = 'simd' | 'relaxed';
export type WasmChoice = 'auto' | WasmBuild;
export type WasmInput = Uint8Array | ArrayBuffer | WebAssembly.Module | URL | string;
/** A build's threaded twin (`-mt`: imported shared memory, wasm threads), what `threads: N > 1` runs. */
export type WasmBinary = WasmBuild | `${WasmBuild}-mt`;
/** Where each build comes from. Node defaults to build/vitguard.<build>.wasm next to the package; a browser or worker
 *  passes URLs (or bytes); Cloudflare Workers pass the compiled WebAssembly.Module their bundler imported.
 *  'simd-mt' / 'relaxed-mt': the threaded binaries (EngineOptions.threads > 1); absent where a source is given for the
 *  single-threaded build only, the engine runs on one thread and says why. */
export type WasmSource = { simd?: WasmInput; relaxed?: WasmInput; 'simd-mt'?: WasmInput; 'relaxed-mt'?: WasmInput };

// A minimal module whose one function is `v128.const 0 ×3; f32x4.relaxed_madd`: valid only where relaxed SIMD is.
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
  0x03, 0x02, 0x01, 0x00, // function section
  0x0a, 0x3d, 0x01, 0x3b, 0x00, // code section, one body of 59 bytes, no locals
  0xfd, 0x0c, ...new Array<number>(16).fill(0),
  0xfd, 0x0c, ...new Array<number>(16).fill(0),
  0xfd, 0x0c, ...new Array<number>(16).fill(0),
  0xfd, 0x85, 0x02, // f32x4.relaxed_madd (0xfd 0x105)
  0x0b,
]);
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b,
  0x03, 0x02, 0x01, 0x00,
  0x0a, 0x16, 0x01, 0x14, 0x00,
  0xfd, 0x0c, ...new Array<number>(16).fill(0),
  0x0b,
]);

export function relaxedSimdSupported(): boolean {
  return typeof WebAssembly !== 'undefined' && WebAssembly.validate(RELAXED_PROBE);
}

export function simdSupported(): boolean {
  return typeof WebAssembly !== 'undefined' && WebAssembly.validate(SIMD_PROBE);
}

/** 'auto' → 'relaxed' where this engine validates relaxed SIMD, else 'simd'. An explicit build must be supported. */
export function pickBuild(choice: WasmChoice = 'auto'): WasmBuild {
  if (choice !== 'auto' && choice !== 'simd' && choice !== 'relaxed') {
    throw new VitguardError('E_WASM', `wasm choice must be 'auto', 'simd' or 'relaxed', got ${JSON.stringify(choice)}`);
  }
  if (!simdSupported()) throw new VitguardError('E_WASM', 'this JavaScript engine has no WebAssembly SIMD128 (needs Chrome 91+, Firefox 89+, Safari 16.4+, Node 16.4+)');
  if (choice === 'auto') return relaxedSimdSupported() ? 'relaxed' : 'simd';
  if (choice === 'relaxed' && !relaxedSimdSupported()) {
    throw new VitguardError('E_WASM', "the 'relaxed' build needs relaxed SIMD, which this engine does not validate (Node 20: run with --experimental-wasm-relaxed-simd; Safari: not available); use wasm: 'simd' or 'auto'");
  }
  return choice;
}

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

async function readNodeFile(url: URL): Promise<Uint8Array> {
  const fs = await import('node:fs/promises');
  const { fileURLToPath } = await import('node:url');
  return new Uint8Array(await fs.readFile(fileURLToPath(url)));
}

async function defaultBytes(build: WasmBinary): Promise<Uint8Array> {
  const file = `vitguard.${build}.wasm`;
  // sdk/engine/wasm.ts (vitest, tsx) → ../../build; lib/sdk/engine/wasm.js (after tsc) → ../../../build. Built from
  // a variable, not a literal: an app's bundler must not glob build/ into its output from here (the browser bundle
  // names its own wasm assets, index.ts).
  const candidates = ['../../build/', '../../../build/'].map((dir) => new URL(dir + file, import.meta.url));
  if (isNode && candidates[0].protocol === 'file:') {
    const errors: string[] = [];
    for (const url of candidates) {
      try {
        return await readNodeFile(url);
      } catch (e) {
        errors.push(`${url.pathname}: ${(e as Error).message}`);
      }
    }
    throw new VitguardError('E_WASM', `cannot read the ${build} kernel binary (run \`npm run build:wasm\`): ${errors.join('; ')}`);
  }
  return fetchBytes(candidates[0]);
}

async function fetchBytes(url: URL | string): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new VitguardError('E_WASM', `cannot fetch wasm from ${String(url)}: ${(e as Error).message}`, { cause: e });
  }
  if (!res.ok) throw new VitguardError('E_WASM', `cannot fetch wasm from ${String(url)}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function inputBytes(input: Uint8Array | ArrayBuffer | URL | string): Promise<Uint8Array> {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  const url = input instanceof URL ? input : null;
  if (isNode && (url?.protocol === 'file:' || (typeof input === 'string' && !/^[a-z]+:\/\//i.test(input)))) {
    if (url) return readNodeFile(url);
    const fs = await import('node:fs/promises');
    try {
      return new Uint8Array(await fs.readFile(input as string));
    } catch (e) {
      throw new VitguardError('E_WASM', `cannot read wasm file ${String(input)}: ${(e as Error).message}`, { cause: e });
    }
  }
  return fetchBytes(input as URL | string);
}

const moduleCache = new Map<WasmBinary, Promise<WebAssembly.Module>>();

/** The compiled module of a build (the default sources are compiled once per process). */
export async function loadWasmModule(build: WasmBinary, source?: WasmSource): Promise<WebAssembly.Module> {
  const input = source?.[build];
  if (input instanceof WebAssembly.Module) return input;
  const compile = async (bytes: Uint8Array): Promise<WebAssembly.Module> => {
    try {
      return await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
    } catch (e) {
      throw new VitguardError('E_WASM', `cannot compile the ${build} kernel binary: ${(e as Error).message}`, { cause: e });
    }
  };
  if (input !== undefined) return compile(await inputBytes(input as Uint8Array | ArrayBuffer | URL | string));
  let p = moduleCache.get(build);
  if (!p) {
    p = defaultBytes(build).then(compile);
    p.catch(() => moduleCache.delete(build));
    moduleCache.set(build, p);
  }
  return p;
}

// --- the exported kernels (assembly/index.ts) -----------------------------------------------------------------
// Pointers are byte offsets into `memory`; sizes and strides are element counts.

export interface Kernels {
  memory: WebAssembly.Memory;
  heap_base(): number;
  has_relaxed_simd(): number;
  copy_f32(dst: number, src: number, n: number): void;
  fill_f32(dst: number, value: number, n: number): void;
  add_f32(dst: number, a: number, b: number, n: number): void;
  transpose_f32(dst: number, src: number, rows: number, cols: number, ldSrc: number, ldDst: number): void;
  gemm_f32_packed_bytes(N: number, K: number): number;
  gemm_f32_pack(dst: number, w: number, bias: number, N: number, K: number): void;
  gemm_f32(out: number, inp: number, packed: number, M: number, N: number, K: number, lda: number, ldc: number): void;
  gemm_f32_ref(out: number, inp: number, w: number, bias: number, M: number, N: number, K: number, lda: number, ldc: number): void;
  gemm_f32_nt(out: number, a: number, b: number, M: number, N: number, K: number, lda: number, ldb: number, ldc: number): void;
  gemm_f32_nt_ref(out: number, a: number, b: number, M: number, N: number, K: number, lda: number, ldb: number, ldc: number): void;
  patch_im2col(dst: number, img: number, C: number, S: number, P: number): void;
  erf_ref(x: number): number;
  layernorm(out: number, inp: number, gamma: number, beta: number, rows: number, D: number, eps: number): void;
  layernorm_ref(out: number, inp: number, gamma: number, beta: number, rows: number, D: number, eps: number): void;
  gelu(out: number, inp: number, n: number): void;
  gelu_ref(out: number, inp: number, n: number): void;
  softmax_rows(x: number, rows: number, cols: number, scale: number): void;
  softmax_rows_ref(x: number, rows: number, cols: number, scale: number): void;
  residual_add(x: number, f: number, gamma: number, rows: number, D: number): void;
  residual_add_ref(x: number, f: number, gamma: number, rows: number, D: number): void;
  token_l2_norms(out: number, x: number, rows: number, D: number): void;
  token_l2_norms_ref(out: number, x: number, rows: number, D: number): void;
  mean_rows(out: number, x: number, rows: number, D: number): void;
  attention_scratch_bytes(T: number, D: number, heads: number): number;
  attention(out: number, qkv: number, T: number, D: number, heads: number, scratch: number, probs: number): void;
  attention_scores(S: number, qkv: number, pk: number, T: number, D: number, heads: number, h: number): void;
  attention_softmax(S: number, pk: number, T: number, scale: number): void;
  attention_pv(out: number, P: number, qkv: number, pk: number, T: number, D: number, heads: number, h: number): void;
  attention_probs(P: number, pk: number, T: number): void;
  attention_ref(out: number, qkv: number, T: number, D: number, heads: number, scratch: number, probs: number): void;
  // int8 attention (assembly/attention_q8.ts): one head per call of each stage; `scratch` is one thread's
  attention_q8_scratch_bytes(T: number, hd: number): number;
  attention_q8_quant(scratch: number, qkv: number, T: number, D: number, heads: number, h: number): void;
  attention_q8_qk(scratch: number, T: number, hd: number, scale: number): void;
  attention_q8_softmax(scratch: number, T: number, hd: number, probs: number): void;
  attention_q8_pv(out: number, scratch: number, T: number, D: number, heads: number, h: number): void;
  attention_q8(out: number, qkv: number, T: number, D: number, heads: number, scratch: number, probs: number): void;
  attention_q8_ref(out: number, qkv: number, T: number, D: number, heads: number, scratch: number, probs: number): void;
}

/** The least an allocation grows memory by (1 MiB), the limit permitting: fewer, larger grows (see WasmHeap.reserve). */
const GROW_STEP_PAGES = 16;

/**
 * A bump allocator over one instance's linear memory. Nothing is freed one by one: the engine lays weights and then
 * one activation arena, and drops the whole instance when done. Views are re-made when memory grows.
 */
export class WasmHeap {
  readonly k: Kernels & Record<string, unknown>;
  private top: number;
  private buffer: ArrayBuffer;
  private f32view: Float32Array;
  private u8view: Uint8Array;

  /** limit: the most bytes of linear memory this heap may grow to; an allocation past it fails with E_MODEL_TOO_LARGE. */
  constructor(kernels: Kernels, readonly limit = Infinity) {
    this.k = kernels as Kernels & Record<string, unknown>;
    this.top = (kernels.heap_base() + 63) & ~63;
    this.buffer = kernels.memory.buffer;
    this.f32view = new Float32Array(this.buffer);
    this.u8view = new Uint8Array(this.buffer);
  }

  /** Bytes from 0 to the end of the last allocation. */
  get used(): number {
    return this.top;
  }

  /** A mark to return to with release(): temporaries above it (e.g. unpacked weights while packing) are dropped. */
  mark(): number {
    return this.top;
  }

  release(mark: number): void {
    if (mark > this.top) throw new VitguardError('E_WASM', `heap release to ${mark} above the top ${this.top}`);
    this.top = mark;
  }

  get memoryBytes(): number {
    return this.k.memory.buffer.byteLength;
  }

  /** Reserve `bytes` (aligned to `align`, default 64 = a cache line); grows memory as needed. Returns the pointer. */
  alloc(bytes: number, align = 64): number {
    if (!(bytes >= 0) || !Number.isFinite(bytes)) throw new VitguardError('E_WASM', `bad allocation size ${bytes}`);
    const ptr = Math.ceil(this.top / align) * align;
    const end = ptr + bytes + 16; // 16 bytes of slack: a v128 load at the last element never leaves memory
    if (end > this.limit) {
      throw new VitguardError('E_MODEL_TOO_LARGE', `the model needs more than ${(this.limit / 2 ** 20).toFixed(0)} MiB of wasm memory (weights and activations), ` +
        'the maxMemoryBytes limit: raise it only for a model you trust, or lower maxBatch');
    }
    if (end > this.k.memory.buffer.byteLength) this.growTo(end, GROW_STEP_PAGES);
    this.top = ptr + bytes;
    return ptr;
  }

  /**
   * Grow memory once to at least `bytes` (never past the limit) so that the allocations that follow do not grow it one
   * at a time: every memory.grow costs ~0.2 ms (a model laid out tensor by tensor grew it hundreds of times). Give a
   * lower bound of what will be allocated: pages past the last allocation are reserved address space, never touched.
   */
  reserve(bytes: number): void {
    const want = Math.min(bytes, this.limit);
    if (want > this.k.memory.buffer.byteLength) this.growTo(want, 0);
  }

  /** Grow to at least `end` bytes, by at least `stepPages` pages where the limit leaves room for them. */
  private growTo(end: number, stepPages: number): void {
    const have = this.k.memory.buffer.byteLength;
    const need = Math.ceil((end - have) / 65536);
    const room = Math.floor((Math.min(this.limit, 2 ** 32) - have) / 65536);
    const pages = Math.max(need, Math.min(stepPages, room));
    try {
      this.k.memory.grow(pages);
    } catch (e) {
      if (pages > need) {
        try { this.k.memory.grow(need); return; } catch { /* report the exact growth's failure below */ }
      }
      throw new VitguardError('E_WASM', `cannot grow wasm memory to ${Math.ceil(end / 2 ** 20)} MiB: ${(e as Error).message}`, { cause: e });
    }
  }

  private refresh(): void {
    if (this.buffer !== this.k.memory.buffer) {
      this.buffer = this.k.memory.buffer;
      this.f32view = new Float32Array(this.buffer);
      this.u8view = new Uint8Array(this.buffer);
    }
  }

  /** A Float32Array view of n floats at ptr (valid until memory grows; re-fetch after allocating). */
  f32(ptr: number, n: number): Float32Array {
    this.refresh();
    return this.f32view.subarray(ptr >>> 2, (ptr >>> 2) + n);
  }

  u8(ptr: number, n: number): Uint8Array {
    this.refresh();
    return this.u8view.subarray(ptr, ptr + n);
  }

  /** Copy src into memory at ptr. */
  writeF32(ptr: number, src: ArrayLike<number>): void {
    this.f32(ptr, src.length).set(src);
  }

  /** Allocate and fill. */
  allocF32(src: ArrayLike<number>): number {
    const p = this.alloc(src.length * 4);
    this.writeF32(p, src);
    return p;
  }

  /** A copy of n floats at ptr. */
  readF32(ptr: number, n: number): Float32Array {
    return this.f32(ptr, n).slice();
  }
}

export interface WasmInstance {
  build: WasmBuild;
  kernels: Kernels;
  heap: WasmHeap;
}

/** True for the threaded (-mt) binaries: they import their memory (shared), the others make their own. */
export function importsMemory(module: WebAssembly.Module): boolean {
  return WebAssembly.Module.imports(module).some((i) => i.kind === 'memory');
}

/** A shared memory for a threaded binary: 16 pages to start, a maximum of maxMemoryBytes (rounded up to pages). */
export function sharedMemory(maxMemoryBytes = Infinity): WebAssembly.Memory {
  const initial = 16;
  const maximum = Math.max(initial, Math.min(65536, Math.ceil(maxMemoryBytes / 65536)));
  try {
    return new WebAssembly.Memory({ initial, maximum, shared: true });
  } catch (e) {
    throw new VitguardError('E_WASM', `cannot make a shared wasm memory of up to ${maximum} pages: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * A fresh instance of a compiled module (synchronous, so a trapped instance can be replaced inside a call).
 * maxMemoryBytes bounds its heap (see WasmHeap). A threaded binary gets a fresh shared memory (sharedMemory()), which
 * the pool's workers then instantiate the same module on (sdk/engine/threads.ts). layout: what the caller will lay
 * out (a key: model shapes and options); a released instance of this module that held the same layout, its memory
 * exactly that size, may be taken back instead (releaseInstance, below). '' = always a new one.
 */
export function instantiate(module: WebAssembly.Module, build: WasmBuild, maxMemoryBytes = Infinity, layout = ''): WasmInstance {
  const spare = layout ? spares.get(module)?.get(layout)?.deref() : undefined;
  if (layout) spares.get(module)?.delete(layout);
  if (spare) {
    const { kernels, statics } = spare;
    if (kernels.memory.buffer.byteLength <= maxMemoryBytes) {
      // as a fresh instance would be: the module's static data as instantiated, everything above it zero
      const all = new Uint8Array(kernels.memory.buffer);
      all.set(statics);
      all.fill(0, statics.byteLength);
      return { build, kernels, heap: new WasmHeap(kernels, maxMemoryBytes) };
    }
  }
  let instance: WebAssembly.Instance;
  try {
    instance = new WebAssembly.Instance(module, {
      env: {
        ...(importsMemory(module) ? { memory: sharedMemory(maxMemoryBytes) } : {}),
        abort: () => {
          throw new VitguardError('E_WASM', 'wasm kernel aborted');
        },
      },
    });
  } catch (e) {
    if (e instanceof VitguardError) throw e;
    throw new VitguardError('E_WASM', `cannot instantiate the ${build} kernel binary: ${(e as Error).message}`, { cause: e });
  }
  const kernels = instance.exports as unknown as Kernels;
  if (!staticData.has(module) && !importsMemory(module)) staticData.set(module, new Uint8Array(kernels.memory.buffer, 0, kernels.heap_base()).slice());
  return { build, kernels, heap: new WasmHeap(kernels, maxMemoryBytes) };
}

// --- reuse of released instances ------------------------------------------------------------------------------
// A new engine's wasm memory starts untouched, and every page its weights and arena then take is faulted in by the
// OS (measured here: ~2 µs a page, 30–45 % of deit_small w8a8's Engine.create; 42 MB of fresh pages 23–71 ms to
// fill, 2–8 ms once touched). An engine disposed healthy offers its instance here (releaseInstance), and the next
// instantiate() of the same module for a model of about the same size takes it back with its pages in place — its
// static data restored and the rest zeroed, as a fresh instance would be. Only for the same layout (the same model
// shapes and options: what the instance then holds is the size a fresh one would grow to, no larger), one kept per
// layout. Held by WeakRefs: the collector frees them when it would have freed a disposed engine's memory anyway. Never a trapped
// instance (the engine drops those), never a threaded one (shared memory, workers attached).

interface Spare { kernels: Kernels; statics: Uint8Array }
/** Per module, per layout, the last instance released (weakly: its memory lingers no longer than it would have). */
const spares = new WeakMap<WebAssembly.Module, Map<string, WeakRef<Spare>>>();

/** The bytes below heap_base of a fresh instance of each module: its static data as instantiated. */
const staticData = new WeakMap<WebAssembly.Module, Uint8Array>();

/** Offer a healthy, no longer used instance of `module` for the next instantiate() (see above). */
export function releaseInstance(module: WebAssembly.Module, inst: WasmInstance, layout: string): void {
  const statics = staticData.get(module);
  if (typeof WeakRef === 'undefined' || !statics || !layout || importsMemory(module)) return;
  let byLayout = spares.get(module);
  if (!byLayout) spares.set(module, (byLayout = new Map()));
  for (const [key, ref] of byLayout) if (!ref.deref()) byLayout.delete(key); // collected meanwhile
  byLayout.set(layout, new WeakRef({ kernels: inst.kernels, statics }));
}
