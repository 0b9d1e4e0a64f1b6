// Threads: the forward's regions (program.ts) split across N threads that share one wasm memory.
//
// The threaded binaries (build/vitguard.<build>-mt.wasm: imported shared memory, wasm threads) are instantiated once
// by the engine (the leader, thread 0) and once by each of N−1 pool workers, on the same shared memory, from the same
// compiled module. A region is split by the leader — a row region into row ranges (splitRows: multiples of the 4-row
// GEMM tile, so every row runs the same kernel path as on one thread), an item region into contiguous blocks of items
// (images × attention heads) — and each thread's kernel calls are written into a control SharedArrayBuffer as f64s
// (export index, argument count, arguments). The leader bumps a sequence number and wakes the workers
// (Atomics.notify), runs its own share, then waits until every worker has counted itself done (Atomics.wait, or a
// spin where the thread may not block: a browser page's main thread). Every call computes the same rows with the same
// operations as on one thread, so the results are the same bits.
//
// Workers poll briefly for the next region before sleeping in Atomics.wait (SPIN below: a few µs, not longer).
// A worker's calls that trap set an error flag with the message; the leader then throws a WebAssembly.RuntimeError,
// which the engine turns into E_WASM and answers by building a fresh instance on a fresh memory (synchronously): the
// pool is told the new memory (a new epoch), each worker leaves its loop, instantiates again and reports ready, and
// until all have the leader runs the regions alone. dispose() ends the loop and terminates the workers.
//
// Workers run `poolWorkerMain` below, a self-contained function sent as source text (Node: a worker_threads Worker
// with eval; browsers: a classic Worker from a Blob URL), so there is no worker file for bundlers to find or for
// tests to build. A page with a Content-Security-Policy must allow `worker-src blob:`.
//
// Where threads cannot run (no SharedArrayBuffer, a page that is not cross-origin isolated, no shared
// WebAssembly.Memory, no Worker API: Cloudflare Workers), the engine runs on one thread and says why
// (ThreadsInfo, Engine.threads, classifier info()).

import { VitguardError } from '../errors.js';
import { callKernel, regionCalls, splitRows, type Executor, type KernelCall, type Region } from './program.js';
import type { Kernels } from './wasm.js';

/** What a `threads: N` request came to. */
export interface ThreadsInfo {
  /** Threads asked for (EngineOptions.threads). */
  requested: number;
  /** Threads that run the forward (1 = this thread only). */
  used: number;
  /** Why fewer were used than asked for. */
  reason?: string;
}

/** Most threads an engine may have (the leader + 63 workers). */
export const MAX_THREADS = 64;

// --- the control buffer ---------------------------------------------------------------------------------------
// Int32 slots (indices), then one Float64 call list per worker from byte SLOT_START.
const SEQ = 0; // region sequence number: the leader bumps it to wake the workers
const DONE = 1; // workers done with the current region
const EPOCH = 2; // the memory the workers must be on; −1: leave
const ERROR = 3; // 0, or 1 + the index of the first worker whose calls threw
const MSG_LEN = 4; // length of that worker's message
const READY = 8; // READY + w: the epoch worker w has instantiated for
const MSG = 128; // the message, one UTF-16 code unit per slot
const MSG_MAX = 512;
const SLOT_START = 4096; // bytes
/** f64s per worker call list: [count, (export index, argc, ...args) × count]. */
const SLOT_F64 = 65536;
// Polls (a few µs) of the sequence number before a worker sleeps in Atomics.wait, and of the done count before the
// leader does. Short on purpose: where the threads share a core with other work (a phone's background, a busy machine)
// a spinning thread holds the core the other one needs — measured here with one core busy, a tiny 12-block model paid
// 1,226 µs per split region at 64k polls, 265 at 16k, 22–30 at 0–256 — while a futex wake-up costs ~20 µs per region
// (~0.6 ms of a deit_tiny forward's 28 regions).
const SPIN = 1 << 8;

export interface ControlLayout {
  seq: number; done: number; epoch: number; error: number; msgLen: number; ready: number; msg: number; msgMax: number;
  slotStart: number; slotF64: number; spin: number;
}
const LAYOUT: ControlLayout = { seq: SEQ, done: DONE, epoch: EPOCH, error: ERROR, msgLen: MSG_LEN, ready: READY, msg: MSG, msgMax: MSG_MAX, slotStart: SLOT_START, slotF64: SLOT_F64, spin: SPIN };

interface InitMessage {
  type: 'init';
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  index: number;
  epoch: number;
  layout: ControlLayout;
}

type WorkerReply = { type: 'ready'; epoch: number } | { type: 'failed'; epoch: number; message: string };

/**
 * The pool worker's whole program. Sent as source text: it must not refer to anything outside itself. `port` is
 * Node's parentPort or a Web Worker's global scope.
 */
export function poolWorkerMain(port: { postMessage(m: unknown): void; on?: (t: string, f: (m: unknown) => void) => void; addEventListener?: (t: string, f: (e: { data: unknown }) => void) => void }): void {
  type Init = { type: string; module: WebAssembly.Module; memory: WebAssembly.Memory; control: SharedArrayBuffer; index: number; epoch: number; layout: ControlLayout };
  const serve = (msg: Init): void => {
    const { module, memory, control, index, epoch, layout: L } = msg;
    const ctl = new Int32Array(control);
    const data = new Float64Array(control, L.slotStart + index * L.slotF64 * 8, L.slotF64);
    let fns: Array<(...a: number[]) => unknown>;
    try {
      const inst = new WebAssembly.Instance(module, { env: { memory, abort() { throw new Error('wasm kernel aborted'); } } });
      const exp = inst.exports as Record<string, (...a: number[]) => unknown>;
      fns = WebAssembly.Module.exports(module).filter((e) => e.kind === 'function').map((e) => exp[e.name]);
    } catch (e) {
      port.postMessage({ type: 'failed', epoch, message: String((e as Error)?.message ?? e) });
      return;
    }
    let seen = Atomics.load(ctl, L.seq);
    Atomics.store(ctl, L.ready + index, epoch);
    port.postMessage({ type: 'ready', epoch });
    if (Atomics.load(ctl, L.epoch) !== epoch) return; // superseded while instantiating: the next init is queued
    for (;;) {
      let s: number;
      let spins = 0;
      while ((s = Atomics.load(ctl, L.seq)) === seen) {
        if (++spins >= L.spin) {
          Atomics.wait(ctl, L.seq, seen);
          spins = 0;
        }
      }
      seen = s;
      // a new memory (the engine rebuilt after a trap) or the end: back to the event loop for the next message
      if (Atomics.load(ctl, L.epoch) !== epoch) return;
      try {
        const n = data[0];
        let p = 1;
        for (let c = 0; c < n; c++) {
          const f = fns[data[p]], argc = data[p + 1];
          p += 2;
          f(...data.subarray(p, p + argc));
          p += argc;
        }
      } catch (e) {
        if (Atomics.compareExchange(ctl, L.error, 0, index + 1) === 0) {
          const text = `${(e as Error)?.name ?? 'Error'}: ${(e as Error)?.message ?? String(e)}`.slice(0, L.msgMax);
          for (let i = 0; i < text.length; i++) ctl[L.msg + i] = text.charCodeAt(i);
          Atomics.store(ctl, L.msgLen, text.length);
        }
      }
      Atomics.add(ctl, L.done, 1);
      Atomics.notify(ctl, L.done);
    }
  };
  const onMessage = (m: unknown): void => {
    if (m && (m as Init).type === 'init') serve(m as Init);
  };
  if (typeof port.on === 'function') port.on('message', onMessage);
  else port.addEventListener!('message', (e) => onMessage(e.data));
}

// --- where threads can run ---------------------------------------------------------------------------------------

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string' && typeof (globalThis as { window?: unknown }).window === 'undefined';

/**
 * null where a threaded engine can run here, else why not (for ThreadsInfo.reason). What threads need is a shared
 * WebAssembly.Memory (its buffer is a SharedArrayBuffer, also where the global constructor is hidden, as in
 * WebKitGTK), Atomics, and workers to send it to.
 */
export function threadsUnsupported(): string | null {
  const g = globalThis as { crossOriginIsolated?: boolean; Worker?: unknown; SharedArrayBuffer?: unknown };
  if (g.crossOriginIsolated === false) {
    return 'no SharedArrayBuffer: the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  }
  if (typeof Atomics === 'undefined' || typeof Atomics.wait !== 'function') return 'no Atomics.wait in this runtime';
  try {
    sharedBuffer(4);
  } catch (e) {
    return `no SharedArrayBuffer / shared WebAssembly.Memory in this runtime (${(e as Error).message})`;
  }
  if (!isNode && typeof g.Worker === 'undefined') return 'no Worker API in this runtime (Cloudflare Workers have no threads)';
  if (!isNode && typeof URL.createObjectURL !== 'function') return 'no URL.createObjectURL in this runtime (the pool workers start from a Blob URL)';
  return null;
}

/** A SharedArrayBuffer of at least `bytes`: the buffer of a shared WebAssembly.Memory (whole 64 KiB pages). */
function sharedBuffer(bytes: number): SharedArrayBuffer {
  const pages = Math.max(1, Math.ceil(bytes / 65536));
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }).buffer as unknown as SharedArrayBuffer;
}

/** Whether this thread may block in Atomics.wait (not a browser page's main thread: there the leader spins). */
function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(sharedBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

// --- the workers -------------------------------------------------------------------------------------------------

let live = 0;
/** Pool workers started and not yet ended, in this thread (for tests: it returns to 0 after dispose). */
export function liveThreadWorkers(): number {
  return live;
}

interface PoolWorker {
  post(m: InitMessage): void;
  onReply(cb: (r: WorkerReply) => void): void;
  onDeath(cb: (why: string) => void): void;
  terminate(): void;
}

function workerSource(port: string): string {
  return `"use strict";(${poolWorkerMain.toString()})(${port});`;
}

async function spawn(): Promise<PoolWorker> {
  if (isNode) {
    const { Worker } = await import('node:worker_threads');
    let w: import('node:worker_threads').Worker;
    try {
      w = new Worker(workerSource(`require('node:worker_threads').parentPort`), { eval: true, name: 'vitguard-thread' } as import('node:worker_threads').WorkerOptions);
    } catch (e) {
      throw new VitguardError('E_WORKER', `could not start a thread pool worker: ${(e as Error).message}`, { cause: e });
    }
    live++;
    w.unref();
    let dead: string | null = null;
    let deathCb: ((why: string) => void) | null = null;
    const die = (why: string) => { if (dead === null) { dead = why; deathCb?.(why); } };
    w.on('error', (e: Error) => die(`${e.name}: ${e.message}`));
    w.on('exit', (code: number) => { live--; die(`exited with code ${code}`); });
    return {
      post: (m) => w.postMessage(m),
      onReply: (cb) => w.on('message', (m: WorkerReply) => cb(m)),
      onDeath: (cb) => { deathCb = cb; if (dead !== null) cb(dead); },
      terminate: () => { dead ??= 'terminated'; void w.terminate(); },
    };
  }
  const url = URL.createObjectURL(new Blob([workerSource('self')], { type: 'text/javascript' }));
  let w: Worker;
  try {
    w = new Worker(url, { name: 'vitguard-thread' });
  } catch (e) {
    URL.revokeObjectURL(url);
    throw new VitguardError('E_WORKER', `could not start a thread pool worker: ${(e as Error).message}`, { cause: e });
  }
  live++;
  let ended = false;
  let deathCb: ((why: string) => void) | null = null;
  let dead: string | null = null;
  const die = (why: string) => { if (dead === null) { dead = why; deathCb?.(why); } };
  w.addEventListener('error', (e: ErrorEvent) => { e.preventDefault?.(); die(e.message || 'the worker failed to load or crashed (a Content-Security-Policy without worker-src blob:?)'); });
  return {
    post: (m) => w.postMessage(m),
    onReply: (cb) => w.addEventListener('message', (e: MessageEvent) => { URL.revokeObjectURL(url); cb(e.data as WorkerReply); }),
    onDeath: (cb) => { deathCb = cb; if (dead !== null) cb(dead); },
    terminate: () => {
      dead ??= 'terminated';
      URL.revokeObjectURL(url);
      w.terminate();
      if (!ended) { ended = true; live--; }
    },
  };
}

/**
 * N−1 workers and the control buffer. `attach` gives the engine an Executor for an instance on a (new) shared memory;
 * `ready` waits until every worker has instantiated on it.
 */
export class ThreadPool {
  readonly threads: number;
  /** Regions split across the workers so far (for tests and diagnostics). */
  dispatched = 0;
  private readonly ctl: Int32Array;
  private readonly f64: Float64Array;
  private epoch = 0;
  private readyEpoch = -1; // the epoch all workers are known to be on
  private disposed = false;
  private failure: string | null = null;
  private waiters: Array<{ epoch: number; resolve: () => void; reject: (e: Error) => void }> = [];
  private readonly replies: Map<number, Set<number>> = new Map(); // epoch → workers that reported ready
  private readonly block = canBlock();
  private readonly fnIndex: Map<string, number>; // export name → index in the module's function exports (both sides)

  private constructor(private readonly workers: PoolWorker[], private readonly module: WebAssembly.Module, control: SharedArrayBuffer) {
    this.threads = workers.length + 1;
    this.ctl = new Int32Array(control);
    this.f64 = new Float64Array(control);
    this.fnIndex = new Map(WebAssembly.Module.exports(module).filter((e) => e.kind === 'function').map((e, i) => [e.name, i]));
    workers.forEach((w, i) => {
      w.onReply((r) => {
        if (r.type === 'failed') this.fail(`thread pool worker ${i + 1} could not instantiate the kernels: ${r.message}`);
        else {
          const set = this.replies.get(r.epoch) ?? new Set<number>();
          set.add(i);
          this.replies.set(r.epoch, set);
          this.settle();
        }
      });
      w.onDeath((why) => this.fail(`thread pool worker ${i + 1} ended: ${why}`));
    });
  }

  /** Start threads − 1 workers for `module` (a threaded binary). */
  static async start(threads: number, module: WebAssembly.Module): Promise<ThreadPool> {
    if (!Number.isInteger(threads) || threads < 2 || threads > MAX_THREADS) {
      throw new VitguardError('E_INPUT', `a thread pool needs 2..${MAX_THREADS} threads, got ${threads}`);
    }
    const workers: PoolWorker[] = [];
    try {
      for (let i = 1; i < threads; i++) workers.push(await spawn());
    } catch (e) {
      for (const w of workers) w.terminate();
      throw e;
    }
    const control = sharedBuffer(SLOT_START + (threads - 1) * SLOT_F64 * 8);
    return new ThreadPool(workers, module, control);
  }

  /** Why the pool stopped working (a worker could not start or died), or null. */
  get broken(): string | null {
    return this.failure;
  }

  private fail(why: string): void {
    if (this.disposed || this.failure !== null) return;
    this.failure = why;
    for (const w of this.waiters.splice(0)) w.reject(new VitguardError('E_WORKER', why));
  }

  private settle(): void {
    for (const w of this.waiters.slice()) {
      if ((this.replies.get(w.epoch)?.size ?? 0) === this.workers.length) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  /**
   * An Executor for an instance of the pool's module on `memory`: the workers are sent the memory and instantiate on
   * it; until all have, the executor runs every region on this thread.
   */
  attach(kernels: Kernels, memory: WebAssembly.Memory): Executor {
    const epoch = ++this.epoch;
    if (!this.disposed && this.failure === null) {
      Atomics.store(this.ctl, EPOCH, epoch);
      // workers still in their loop leave it (epoch changed) and take the init message from their queue
      Atomics.add(this.ctl, SEQ, 1);
      Atomics.notify(this.ctl, SEQ);
      try {
        this.workers.forEach((w, i) => w.post({ type: 'init', module: this.module, memory, control: this.ctl.buffer as SharedArrayBuffer, index: i, epoch, layout: LAYOUT }));
      } catch (e) {
        // e.g. a DataCloneError where shared memory may not cross to a worker: the executor runs alone
        this.fail(`the shared memory could not be sent to the pool workers: ${(e as Error).message}`);
      }
    }
    return new ThreadedExecutor(this, kernels, epoch);
  }

  /** Resolves when every worker runs on the memory of the last attach(); rejects (E_WORKER) when one cannot. */
  ready(timeoutMs = 30_000): Promise<void> {
    if (this.disposed) return Promise.reject(new VitguardError('E_DISPOSED', 'the thread pool was disposed'));
    if (this.failure !== null) return Promise.reject(new VitguardError('E_WORKER', this.failure));
    const epoch = this.epoch;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(`the thread pool workers did not start within ${timeoutMs} ms`);
        reject(new VitguardError('E_WORKER', `the thread pool workers did not start within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (f: () => void) => () => { clearTimeout(timer); f(); };
      this.waiters.push({ epoch, resolve: done(resolve), reject: (e) => { clearTimeout(timer); reject(e); } });
      this.settle();
    });
  }

  /** True when the workers are on `epoch`'s memory and the pool works: regions may be split. */
  usable(epoch: number): boolean {
    if (this.disposed || this.failure !== null || epoch !== this.epoch) return false;
    if (this.readyEpoch === epoch) return true;
    for (let w = 0; w < this.workers.length; w++) if (Atomics.load(this.ctl, READY + w) !== epoch) return false;
    this.readyEpoch = epoch;
    return true;
  }

  /** Ends the workers' loops and terminates them. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    Atomics.store(this.ctl, EPOCH, -1);
    Atomics.add(this.ctl, SEQ, 1);
    Atomics.notify(this.ctl, SEQ);
    for (const w of this.workers) w.terminate();
    for (const w of this.waiters.splice(0)) w.reject(new VitguardError('E_DISPOSED', 'the thread pool was disposed'));
  }

  /** Write one worker's calls into its slot; false if they do not fit. */
  private encode(w: number, calls: KernelCall[]): boolean {
    const base = (SLOT_START >> 3) + w * SLOT_F64;
    const f = this.f64;
    let p = base + 1;
    const end = base + SLOT_F64;
    for (const c of calls) {
      const fi = this.fnIndex.get(c.fn);
      if (fi === undefined || c.js) return false;
      if (p + 2 + c.args.length > end) return false;
      f[p] = fi;
      f[p + 1] = c.args.length;
      for (let i = 0; i < c.args.length; i++) f[p + 2 + i] = c.args[i];
      p += 2 + c.args.length;
    }
    f[base] = calls.length;
    return true;
  }

  /** Run one region over every thread: the leader's share (t = 0) here, the others' in the workers. */
  run(k: Kernels, region: Region, epoch: number): void {
    const serial = () => { for (const c of regionCalls(region)) callKernel(k, c); };
    if (region.serial || !this.usable(epoch)) return serial();
    const lists = perThread(region, this.threads);
    let any = false;
    for (let t = 1; t < lists.length; t++) {
      if (!this.encode(t - 1, lists[t])) {
        // more calls than a slot holds (a very large batch): an item region runs in two halves, a row region alone
        if ('items' in region && region.items > 1) {
          const half = region.items >> 1, { step } = region;
          this.run(k, { items: half, step }, epoch);
          this.run(k, { items: region.items - half, step: (i, tt) => step(i + half, tt) }, epoch);
          return;
        }
        return serial();
      }
      if (lists[t].length) any = true;
    }
    if (!any) {
      for (const c of lists[0]) callKernel(k, c);
      return;
    }
    const ctl = this.ctl;
    this.dispatched++;
    Atomics.store(ctl, DONE, 0);
    Atomics.add(ctl, SEQ, 1);
    Atomics.notify(ctl, SEQ);
    let mine: unknown = null;
    try {
      for (const c of lists[0]) callKernel(k, c);
    } catch (e) {
      mine = e;
    }
    // wait for every worker, whatever happened here: they share the memory and the counter
    const W = this.workers.length;
    let spins = 0;
    for (;;) {
      const d = Atomics.load(ctl, DONE);
      if (d >= W) break;
      if (this.block && ++spins >= SPIN) {
        Atomics.wait(ctl, DONE, d, 50);
        spins = 0;
      }
    }
    const err = Atomics.load(ctl, ERROR);
    if (err !== 0) {
      const n = Atomics.load(ctl, MSG_LEN);
      let text = '';
      for (let i = 0; i < n; i++) text += String.fromCharCode(ctl[MSG + i]);
      Atomics.store(ctl, ERROR, 0);
      if (mine === null) throw new WebAssembly.RuntimeError(`in thread ${err}: ${text}`);
    }
    if (mine !== null) throw mine;
  }
}

/** Each thread's calls for a region: row ranges by splitRows, items in contiguous blocks; t = 0 is the leader. */
export function perThread(region: Region, threads: number): KernelCall[][] {
  const lists: KernelCall[][] = Array.from({ length: threads }, () => []);
  if ('rows' in region) {
    const ranges = splitRows(region.rows, threads);
    ranges.forEach(([r0, r1], t) => {
      for (const s of region.steps) lists[t].push(...s(r0, r1, t));
    });
  } else {
    const I = region.items;
    for (let t = 0; t < threads; t++) {
      const i0 = Math.floor((I * t) / threads), i1 = Math.floor((I * (t + 1)) / threads);
      for (let i = i0; i < i1; i++) lists[t].push(...region.step(i, t));
    }
  }
  return lists;
}

/** The engine's Executor on a pool: threads = the pool's; regions run serially until the workers are ready. */
export class ThreadedExecutor implements Executor {
  readonly threads: number;
  constructor(private readonly pool: ThreadPool, private readonly k: Kernels, private readonly epoch: number) {
    this.threads = pool.threads;
  }
  run(region: Region): void {
    this.pool.run(this.k, region, this.epoch);
  }
}
