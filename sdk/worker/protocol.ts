// What crosses the boundary between the client (main thread) and a worker (Web Worker or Node worker_threads).
// Everything here is structured-clonable: errors travel as plain {code, message} records, never as Error objects
// (comlink would drop the VitguardError `code`), and wasm sources as strings, bytes or compiled modules.

import { VitguardError, type ErrorCode } from '../errors.js';
import type { ClassifyResult } from '../classifier.js';

/** One wasm build's source as it can cross to a worker: a URL string, the bytes, or a compiled module. */
export type WireWasm = string | Uint8Array | ArrayBuffer | WebAssembly.Module;

/** The first message a worker gets: the model bytes and how to load wasm. */
export interface WorkerInit {
  /** The model file (.safetensors), copied into the worker (the client keeps a copy, or loads it again, for replacements). */
  model: Uint8Array;
  wasm: 'auto' | 'simd' | 'relaxed';
  wasmSource?: { simd?: WireWasm; relaxed?: WireWasm; 'simd-mt'?: WireWasm; 'relaxed-mt'?: WireWasm };
  maxBatch?: number;
  maxMemoryBytes?: number;
  /** Threads per forward inside this worker (CreateOptions.threads). */
  threads?: number;
  /** The attention path (CreateOptions.attention). */
  attention?: 'f32' | 'int8';
  /** Image decoding limits and EXIF orientation (ImageOptions in classifier.ts). */
  maxPixels?: number;
  maxDecodeBytes?: number;
  autoOrient?: boolean;
}

/** A failure as it crosses the boundary. `trap` marks a wasm trap: the worker's instance is no longer trusted. */
export interface WireError {
  code: ErrorCode;
  message: string;
  trap?: boolean;
}

/** Every worker call answers with an envelope, so a failure keeps its code and nothing is thrown across threads. */
export type Envelope<T> = { ok: true; value: T } | { ok: false; error: WireError };

/** Faults a test can ask a worker for, to prove the client recovers: a real wasm trap (raw, or inside the engine), a crash, a hang. */
export type Fault = 'trap' | 'engine-trap' | 'exit' | 'hang';

export function isWasmTrap(e: unknown): boolean {
  return typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError;
}

/** Any thrown value → a wire error. VitguardErrors keep their code; wasm traps become E_WASM with trap = true. */
export function toWireError(e: unknown): WireError {
  if (isWasmTrap(e)) return { code: 'E_WASM', message: `wasm trap: ${(e as Error).message}`, trap: true };
  if (e instanceof VitguardError) return { code: e.code, message: e.message };
  if (typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'VitguardError') {
    const v = e as { code: ErrorCode; message: string };
    return { code: v.code, message: v.message };
  }
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return { code: 'E_WORKER', message: `unexpected error in the worker: ${msg}` };
}

export function fromWireError(w: WireError): VitguardError {
  return new VitguardError(w.code, w.message);
}

/** The ArrayBuffers a result owns, to transfer them instead of copying. */
export function resultBuffers(r: ClassifyResult | ClassifyResult[] | Float32Array | { map: Float32Array; rollout: Float32Array }): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  const add = (a: ArrayBufferView | undefined) => {
    if (a && a.buffer instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength) out.add(a.buffer);
  };
  const visit = (x: unknown) => {
    if (ArrayBuffer.isView(x)) return add(x);
    if (Array.isArray(x)) return x.forEach(visit);
    if (typeof x === 'object' && x !== null) {
      const o = x as Record<string, unknown>;
      add(o.logits as Float32Array | undefined);
      if (o.attention) visit(o.attention);
      if (o.map) add(o.map as Float32Array);
      if (o.rollout) add(o.rollout as Float32Array);
    }
  };
  visit(r);
  return [...out];
}
