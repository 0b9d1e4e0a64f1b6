// The worker side: one Classifier living in a worker, served through comlink. The same object serves the browser
// entry (entry.browser.ts) and the Node entry (entry.node.ts); only the endpoint differs.
//
// Every method answers an Envelope (never throws across the boundary), and results are transferred, not copied.
// A wasm trap answers E_WASM with `trap: true`; the client then terminates this worker and starts a fresh one, so a
// trapped instance is never used again. Here, too, the instance is dropped at once so no later call can reach it.
// The worker keeps no copy of the model once it is loaded (keepModel: false): the client has one for the fresh worker.

import { transfer } from 'comlink';
import { Classifier, pickImageOptions, type ClassifierInfo, type ClassifyOptions, type ClassifyResult, type ImageInput } from '../classifier.js';
import type { WasmSource } from '../engine/index.js';
import { VitguardError } from '../errors.js';
import '../quant/index.js'; // registers the quantized linear kinds (w8a8, w4a8, …) with the engine
import { resultBuffers, toWireError, type Envelope, type Fault, type WireWasm, type WorkerInit } from './protocol.js';

/** Wire wasm sources → what the engine takes: URL strings become URL objects, bytes and modules pass as they are. */
export function wasmSourceFromWire(w: WorkerInit['wasmSource']): WasmSource | undefined {
  if (!w) return undefined;
  const one = (x: WireWasm | undefined) => (typeof x === 'string' ? new URL(x) : x);
  const out: Record<string, unknown> = {};
  if (w.simd !== undefined) out.simd = one(w.simd);
  if (w.relaxed !== undefined) out.relaxed = one(w.relaxed);
  if (w['simd-mt'] !== undefined) out['simd-mt'] = one(w['simd-mt']);
  if (w['relaxed-mt'] !== undefined) out['relaxed-mt'] = one(w['relaxed-mt']);
  return out as WasmSource;
}

export function createService(exit: (code: number) => void) {
  let clf: Classifier | null = null;
  let disposed = false;

  const ready = (): Classifier => {
    if (disposed) throw new VitguardError('E_DISPOSED', 'this worker was disposed');
    if (!clf) throw new VitguardError('E_WORKER', 'the worker has no model: init() was not called or failed');
    return clf;
  };

  /** Run fn, wrap its value (transferring the buffers it owns) or its failure in an envelope. */
  const serve = <T>(fn: () => T, buffers: (v: T) => ArrayBuffer[] = () => []): Envelope<T> => {
    try {
      const value = fn();
      const env: Envelope<T> = { ok: true, value };
      return transfer(env, buffers(value));
    } catch (e) {
      const error = toWireError(e);
      // the engine caught a trap and discarded its instance; it keeps no model to rebuild from (keepModel: false below)
      if (clf?.engine.needsModel) error.trap = true;
      if (error.trap) {
        // the instance's memory may be half-written: never use it again (the client replaces this worker)
        try { clf?.dispose(); } catch { /* already broken */ }
        clf = null;
      }
      return { ok: false, error };
    }
  };

  const api = {
    async init(init: WorkerInit): Promise<Envelope<ClassifierInfo>> {
      try {
        clf = await Classifier.create(init.model, { wasm: init.wasm, wasmSource: wasmSourceFromWire(init.wasmSource), maxBatch: init.maxBatch, maxMemoryBytes: init.maxMemoryBytes, threads: init.threads, attention: init.attention, ...pickImageOptions(init),
          // the model's bytes go once the weights are laid out: after a trap the pool, which keeps them, replaces this worker
          keepModel: false });
        return { ok: true, value: clf.info() };
      } catch (e) {
        return { ok: false, error: toWireError(e) };
      }
    },
    info(): Envelope<ClassifierInfo> {
      return serve(() => ready().info());
    },
    classify(image: ImageInput, opts: ClassifyOptions): Envelope<ClassifyResult> {
      return serve(() => ready().classify(image, opts), resultBuffers);
    },
    classifyBatch(images: ImageInput[], opts: ClassifyOptions): Envelope<ClassifyResult[]> {
      return serve(() => ready().classifyBatch(images, opts), resultBuffers);
    },
    embed(image: ImageInput): Envelope<Float32Array> {
      return serve(() => Float32Array.from(ready().embed(image)), resultBuffers);
    },
    attention(image: ImageInput): Envelope<NonNullable<ClassifyResult['attention']>> {
      return serve(() => ready().attention(image), resultBuffers);
    },
    dispose(): Envelope<null> {
      return serve(() => {
        disposed = true;
        clf?.dispose();
        clf = null;
        return null;
      });
    },
    /**
     * Diagnostics for the memory bench: this worker's own JS heap, after a full GC where the runtime exposes one
     * (node --expose-gc). The main thread cannot see a worker's heap any other way; null fields where it is unknown.
     */
    memory(): Envelope<WorkerMemory> {
      (globalThis as { gc?: () => void }).gc?.();
      const m = (globalThis as { process?: { memoryUsage?: () => NodeJS.MemoryUsage } }).process?.memoryUsage?.();
      return { ok: true, value: { heapUsed: m?.heapUsed ?? null, heapTotal: m?.heapTotal ?? null, arrayBuffers: m?.arrayBuffers ?? null, wasm: clf?.info().memoryBytes ?? 0 } };
    },
    /**
     * Fault injection for recovery tests. 'trap' runs real wasm that executes `unreachable` and answers as any trap
     * does; 'engine-trap' points the engine's residual stream past the end of its memory and classifies, so the
     * engine's own kernels trap and the engine catches it; 'exit' ends the worker abruptly; 'hang' blocks this thread
     * for `ms` milliseconds.
     */
    async fault(kind: Fault, ms = 60_000): Promise<Envelope<null>> {
      // 'exit' never answers: the caller must learn of the death from the worker's exit / error event
      if (kind === 'exit') { exit(3); return new Promise<never>(() => {}); }
      if (kind === 'hang') { const end = Date.now() + ms; while (Date.now() < end) { /* busy: the thread is stuck */ } return { ok: true, value: null }; }
      if (kind === 'engine-trap') {
        return serve(() => {
          const c = ready();
          (c.engine as unknown as { state: { arena: { x: number } } }).state.arena.x = 0x7fff0000;
          const { inChans, imgSize } = c.model.meta.config;
          c.classify({ chw: new Float32Array(inChans * imgSize * imgSize) });
          return null;
        });
      }
      return serve(() => { ready(); runUnreachable(); return null; });
    },
  };
  return api;
}

export type WorkerApi = ReturnType<typeof createService>;

/** What memory() reports: a worker isolate's heap (bytes, after GC) and its classifier's wasm memory. */
export interface WorkerMemory { heapUsed: number | null; heapTotal: number | null; arrayBuffers: number | null; wasm: number }

/** A 26-byte wasm module whose only function executes `unreachable`: a genuine WebAssembly.RuntimeError. */
function runUnreachable(): never {
  const bytes = new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: () -> ()
    0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
    0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, // export "f" = func 0
    0x0a, 0x05, 0x01, 0x03, 0x00, 0x00, 0x0b, // code: no locals, unreachable, end
  ]);
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes));
  (inst.exports.f as () => void)();
  throw new VitguardError('E_WASM', 'unreachable returned');
}
