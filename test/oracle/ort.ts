// onnxruntime-web (wasm backend) in Node, for the parity test and the benchmark. A devDependency only.
// The Node entry (dist/ort.node.min.mjs) finds its ort-wasm-simd-threaded.{mjs,wasm} next to itself through
// import.meta.url, so no wasmPaths are needed when it is imported from node_modules (checked with ORT 1.30 on Node 20).

import * as ort from 'onnxruntime-web';
import { VitguardError } from '../../sdk/errors.js';

export interface OrtVitOutput {
  logits: Float32Array; // [B, numClasses]
  feature: Float32Array; // [B, D]
}

export interface OrtVitSession {
  /** pixels: Float32 [B, C, S, S] already normalised. */
  run(pixels: Float32Array, batch?: number): Promise<OrtVitOutput>;
  release(): Promise<void>;
  readonly inputDims: [number, number, number]; // [C, S, S]
}

let configured = false;

/** Threads (default 1) are set once per process: ORT reads env.wasm at its first session. */
export function configureOrt(threads = 1): void {
  if (configured) {
    if (ort.env.wasm.numThreads !== threads) {
      throw new VitguardError('E_USAGE', `onnxruntime-web already initialised with ${ort.env.wasm.numThreads} threads, asked for ${threads}`);
    }
    return;
  }
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
  configured = true;
}

export async function createOrtSession(
  modelBytes: Uint8Array,
  inputDims: [number, number, number],
  options: { threads?: number; optimization?: 'disabled' | 'basic' | 'extended' | 'all' } = {},
): Promise<OrtVitSession> {
  configureOrt(options.threads ?? 1);
  const session = await ort.InferenceSession.create(modelBytes, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: options.optimization ?? 'all',
  });
  const [C, S] = inputDims;
  return {
    inputDims,
    async run(pixels: Float32Array, batch = 1): Promise<OrtVitOutput> {
      if (pixels.length !== batch * C * S * S) {
        throw new VitguardError('E_INPUT', `ort: pixels has ${pixels.length} values, expected ${batch}×${C}×${S}×${S}`);
      }
      const out = await session.run({ pixels: new ort.Tensor('float32', pixels, [batch, C, S, S]) });
      const logits = out.logits.data as Float32Array;
      const feature = out.feature.data as Float32Array;
      return { logits: Float32Array.from(logits), feature: Float32Array.from(feature) };
    },
    release: () => session.release(),
  };
}

/**
 * Instantiate ORT's wasm runtime once (a one-node model), so that the first real session's creation time is the
 * session's own: under --no-liftoff compiling ORT's ~12 MB wasm alone takes seconds. Returns the milliseconds spent.
 */
export async function initOrtRuntime(threads = 1): Promise<number> {
  const t0 = performance.now();
  const { default: onnxProto } = await import('onnx-proto');
  const { onnx } = onnxProto;
  const io = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }] } } } });
  const bytes = onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'init', node: [{ opType: 'Identity', input: ['x'], output: ['y'] }], input: [io('x')], output: [io('y')] },
  })).finish();
  configureOrt(threads);
  const s = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  await s.release();
  return performance.now() - t0;
}

/** onnxruntime-web's version string, e.g. "1.30.0". */
export function ortVersion(): string {
  return ort.env.versions.web ?? 'unknown';
}
