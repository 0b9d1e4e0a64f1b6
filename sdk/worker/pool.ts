// The client side of worker mode: N workers, each holding its own Classifier, behind one promise API.
//
// Every call goes to the live worker with the fewest calls in flight. A call settles in exactly one of these ways:
// its answer; a typed error from the worker (kept code); E_WASM when the worker's wasm trapped (the worker is then
// replaced); E_WORKER when the worker died or the call ran past `timeoutMs` (the worker is terminated and replaced);
// E_DISPOSED when the pool was disposed before or during the call. Comlink alone would leave a call to a dead
// worker pending forever; here every in-flight call is raced against its worker's death. (Not with Promise.race on
// one long-lived death promise: every race leaves a reaction on it until it settles, ~1.4 KB per call for the life
// of the worker; each call instead registers a rejector that is removed when the call settles.)

import { wrap, transfer, type Remote } from 'comlink';
import { VitguardError } from '../errors.js';
import type { ClassifierInfo } from '../classifier.js';
import { loadWasmModule, pickBuild } from '../engine/wasm.js';
import { threadsUnsupported } from '../engine/threads.js';
import { fromWireError, type Envelope, type WireWasm, type WorkerInit } from './protocol.js';
import { wasmSourceFromWire, type WorkerApi } from './service.js';
import { spawnWorker, type WorkerHandle } from './spawn.js';

export interface PoolOptions {
  /** Number of workers (≥ 1). */
  size: number;
  init: WorkerInit;
  workerUrl?: URL | string;
  /** A call running longer than this (ms) kills its worker and fails with E_WORKER; 0 = no limit. */
  timeoutMs?: number;
  /**
   * Where replacement workers get the model (sdk/model-bytes.ts: loaded again where it can be had again): given, the
   * pool lets go of init.model once its first workers have started. Absent, it keeps init.model for them.
   */
  model?: { get(): Promise<Uint8Array> };
}

interface Slot {
  index: number;
  /** Resolves once the worker has loaded the model; rejects if it could not start. */
  ready: Promise<void>;
  handle: WorkerHandle | null;
  remote: Remote<WorkerApi> | null;
  inflight: number;
  /** Set when the worker is dead or being replaced; calls in flight reject through it. */
  dead: boolean;
  /** Why it died (set with `dead`). */
  deathError: VitguardError | null;
  /** The rejectors of the waits in progress on this worker (see orDeath): all called once when it dies. */
  onDeath: Set<(err: VitguardError) => void>;
  kill: (err: VitguardError) => void;
  generation: number;
}

type Method = 'classify' | 'classifyBatch' | 'embed' | 'attention' | 'info' | 'fault' | 'memory';

export class WorkerPool {
  private slots: Slot[] = [];
  private disposed = false;
  /** How many workers were started to replace dead or trapped ones (for tests and diagnostics). */
  replacements = 0;
  info!: ClassifierInfo;

  private constructor(private opts: PoolOptions) {}

  static async create(opts: PoolOptions): Promise<WorkerPool> {
    if (!Number.isInteger(opts.size) || opts.size < 1 || opts.size > 64) {
      throw new VitguardError('E_INPUT', `workers must be an integer from 1 to 64, got ${opts.size}`);
    }
    const pool = new WorkerPool({ ...opts, init: await withCompiledWasm(opts.init) });
    for (let i = 0; i < opts.size; i++) pool.slots.push(pool.startSlot(i, 0));
    try {
      await Promise.all(pool.slots.map((s) => s.ready));
    } catch (e) {
      await pool.dispose();
      throw e;
    }
    // every worker has its copy: replacements get theirs from opts.model
    if (opts.model) pool.opts = { ...pool.opts, init: { ...pool.opts.init, model: new Uint8Array(0) } };
    return pool;
  }

  get size(): number { return this.slots.length; }

  /** Workers alive now (for tests). */
  get alive(): number { return this.slots.filter((s) => !s.dead).length; }

  private startSlot(index: number, generation: number): Slot {
    const slot: Slot = { index, handle: null, remote: null, inflight: 0, dead: false, deathError: null, onDeath: new Set(), kill: () => {}, generation, ready: Promise.resolve() };
    slot.kill = (err) => {
      if (slot.dead) return;
      slot.dead = true;
      slot.deathError = err;
      for (const reject of slot.onDeath) reject(err);
      slot.onDeath.clear();
    };
    slot.ready = (async () => {
      const handle = await spawnWorker(this.opts.workerUrl);
      slot.handle = handle;
      handle.unref();
      handle.onDeath((reason) => {
        slot.kill(new VitguardError('E_WORKER', `worker ${index} died: ${reason}`));
        this.replace(slot);
      });
      const remote = wrap<WorkerApi>(handle.endpoint);
      slot.remote = remote;
      handle.ref();
      try {
        // the model is copied into each worker; a replacement's comes from opts.model where given (else init's, kept)
        const init = generation > 0 && this.opts.model ? { ...this.opts.init, model: await this.opts.model.get() } : this.opts.init;
        const env = await orDeath<Envelope<ClassifierInfo>>(slot, remote.init(init));
        const info = unwrap(env);
        this.info ??= info;
      } finally {
        if (slot.inflight === 0) handle.unref(); // calls that waited for this start keep it referenced
      }
    })();
    slot.ready.catch((e) => {
      slot.kill(e instanceof VitguardError ? e : new VitguardError('E_WORKER', `worker ${index} failed to start: ${(e as Error).message}`));
    });
    return slot;
  }

  /** Retire a dead or untrusted worker and start a fresh one in its place (unless the pool is disposed). */
  private replace(slot: Slot): void {
    if (this.slots[slot.index] !== slot) return; // already replaced
    slot.kill(new VitguardError('E_WORKER', `worker ${slot.index} was replaced`));
    const old = slot.handle;
    old?.terminate().catch(() => {});
    if (this.disposed) return;
    this.replacements++;
    const fresh = this.startSlot(slot.index, slot.generation + 1);
    fresh.ready.catch(() => {}); // a failed restart is reported to the next call on this slot
    this.slots[slot.index] = fresh;
  }

  /** The live slot with the fewest calls in flight (ties: lowest index). */
  private pick(): Slot {
    let best: Slot | null = null;
    for (const s of this.slots) if (!s.dead && (best === null || s.inflight < best.inflight)) best = s;
    return best ?? this.slots[0];
  }

  async call<T>(method: Method, args: unknown[], transfers: Transferable[] = []): Promise<T> {
    if (this.disposed) throw new VitguardError('E_DISPOSED', `${method}() after dispose(): create a new classifier`);
    const slot = this.pick();
    slot.inflight++;
    slot.handle?.ref();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await orDeath(slot, slot.ready);
      slot.handle?.ref(); // a call that waited for a (re)start: its worker was not started yet when it came in
      if (this.disposed) throw new VitguardError('E_DISPOSED', `${method}() after dispose(): create a new classifier`);
      const remote = slot.remote!;
      const fn = remote[method] as unknown as (...a: unknown[]) => Promise<Envelope<T>>;
      const sent = fn(...args.map((a, i) => (i === 0 && transfers.length ? transfer(a, transfers) : a)));
      const racers: Promise<Envelope<T>>[] = [orDeath(slot, sent)];
      const limit = this.opts.timeoutMs ?? 0;
      if (limit > 0) {
        racers.push(new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const err = new VitguardError('E_WORKER', `${method}() took longer than ${limit} ms: worker ${slot.index} was terminated and will be replaced`);
            slot.kill(err);
            this.replace(slot);
            reject(err);
          }, limit);
        }));
      }
      const env = await Promise.race(racers);
      if (!env.ok && env.error.trap) {
        this.replace(slot);
        throw new VitguardError('E_WASM', `${env.error.message} (the worker was replaced; retry the call)`);
      }
      return unwrap(env);
    } catch (e) {
      if (this.disposed && e instanceof VitguardError && e.code === 'E_WORKER') {
        throw new VitguardError('E_DISPOSED', `${method}() was cut short by dispose()`);
      }
      throw e;
    } finally {
      clearTimeout(timer);
      slot.inflight--;
      if (slot.inflight === 0) slot.handle?.unref();
    }
  }

  /** Test hook: kill one worker abruptly from outside (as an OOM kill would). */
  async terminateWorker(index: number): Promise<void> {
    await this.slots[index]?.handle?.terminate();
    const slot = this.slots[index];
    if (slot) {
      slot.kill(new VitguardError('E_WORKER', `worker ${index} was terminated`));
      this.replace(slot);
    }
  }

  /** Ask every worker to free its model, then terminate them all. Calls in flight reject with E_DISPOSED. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const slots = this.slots;
    await Promise.all(slots.map(async (s) => {
      try {
        if (!s.dead && s.remote) {
          let timer: ReturnType<typeof setTimeout> | undefined;
          await Promise.race([orDeath<unknown>(s, s.remote.dispose()), new Promise((r) => { timer = setTimeout(r, 1000); })]).finally(() => clearTimeout(timer));
        }
      } catch { /* dying anyway */ }
      s.kill(new VitguardError('E_DISPOSED', 'the classifier was disposed while this call was running'));
      await s.handle?.terminate().catch(() => {});
    }));
  }
}

/**
 * The init every worker gets, with its kernel binary compiled here, once: a WebAssembly.Module posted to a worker is
 * shared with it, not recompiled (Node worker_threads and browsers both structured-clone a Module), so N workers and
 * every replacement skip fetching and compiling the wasm. The build is picked here: the workers run in this runtime
 * and would pick the same. With threads > 1 the threaded twin (-mt) is compiled too. Should any of it fail, the init
 * goes as it came and each worker reports the failure as it always did.
 */
export async function withCompiledWasm(init: WorkerInit): Promise<WorkerInit> {
  try {
    const build = pickBuild(init.wasm);
    const source = wasmSourceFromWire(init.wasmSource);
    const given = init.wasmSource as Record<string, WireWasm | undefined> | undefined;
    const wasmSource: Record<string, WireWasm | undefined> = { ...given, [build]: await loadWasmModule(build, source) };
    const mt = `${build}-mt` as const;
    // the threaded twin where a forward may use it and the caller did not leave it out on purpose (Engine.create
    // reports a source without it)
    const threads = (init as WorkerInit & { threads?: number }).threads ?? 1;
    if (threads > 1 && threadsUnsupported() === null && (!given || given[mt] !== undefined)) {
      wasmSource[mt] = await loadWasmModule(mt, source);
    }
    return { ...init, wasm: build, wasmSource: wasmSource as WorkerInit['wasmSource'] };
  } catch {
    return init;
  }
}

/** p, or a rejection with the worker's death if it dies first (at once if it is already dead). */
function orDeath<T>(slot: Slot, p: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (slot.dead) {
      p.catch(() => {}); // its answer can no longer matter
      reject(slot.deathError);
      return;
    }
    slot.onDeath.add(reject);
    p.then(
      (v) => { slot.onDeath.delete(reject); resolve(v); },
      (e) => { slot.onDeath.delete(reject); reject(e); },
    );
  });
}

function unwrap<T>(env: Envelope<T>): T {
  if (env.ok) return env.value;
  throw fromWireError(env.error);
}
