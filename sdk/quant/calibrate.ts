// Calibration: what the inputs of the linear layers look like on in-distribution images, measured through the same
// engine and kernels that will run the quantized model. A 'probe' scheme runs every linear in f32 while recording,
// per layer, the max |x| of each input channel; from that come the static activation scales of `quantize --calib`
// (one per-tensor scale per layer, s = max|x| / qmax) and the outlier-aware schemes' choices (sdk/study).

import { VitguardError } from '../errors.js';
import type { ModelFile } from '../format/model.js';
import { Engine, type WasmChoice } from '../engine/index.js';
import { F32_LINEAR, registerScheme, type Linear, type LinearBuildContext, type LinearSpec } from '../engine/linear.js';
import type { WasmInstance } from '../engine/wasm.js';
import { preprocess } from '../image/preprocess.js';
import { openDataset } from '../data/index.js';
import { quantizableLayers } from './quantize.js';

/** layer name → max |x| per input channel [K] over every row seen while the probe ran. */
export type InputStats = Map<string, Float32Array>;

let recording: InputStats | null = null;

class ProbeLinear implements Linear {
  readonly kind = 'probe';
  readonly bytes: number;
  private readonly inner: Linear;
  constructor(readonly spec: LinearSpec, private readonly wasm: WasmInstance, ctx: LinearBuildContext) {
    this.inner = F32_LINEAR.create(spec, ctx);
    this.bytes = this.inner.bytes;
  }
  run(inPtr: number, outPtr: number, rows: number): void {
    if (recording) {
      const K = this.spec.inFeatures;
      let m = recording.get(this.spec.name);
      if (!m) recording.set(this.spec.name, (m = new Float32Array(K)));
      const x = this.wasm.heap.f32(inPtr, rows * K);
      for (let r = 0; r < rows; r++) {
        const o = r * K;
        for (let j = 0; j < K; j++) {
          const v = Math.abs(x[o + j]);
          if (v > m[j]) m[j] = v;
        }
      }
    }
    this.inner.run(inPtr, outPtr, rows);
  }
}

registerScheme('probe', () => ({ kind: 'probe', tensors: F32_LINEAR.tensors, create: (spec, ctx) => new ProbeLinear(spec, ctx.wasm, ctx) }));

/** Per-channel max |input| of every linear layer of an fp32 model over `images` (n × [C, S, S], normalised). */
export async function probeInputStats(fp32: ModelFile, images: Float32Array, n: number, opts: { wasm?: WasmChoice; batch?: number } = {}): Promise<InputStats> {
  if (fp32.meta.scheme.name !== 'fp32') throw new VitguardError('E_SCHEME', `the calibration probe runs on the fp32 model, got scheme ${fp32.meta.scheme.name}`);
  const probe: ModelFile = { ...fp32, meta: { ...fp32.meta, scheme: { name: 'probe' } } };
  const engine = await Engine.create(probe, { wasm: opts.wasm, maxBatch: opts.batch ?? 16 });
  const stats: InputStats = new Map();
  recording = stats;
  try {
    engine.forwardBatch(images, n);
  } finally {
    recording = null;
    engine.dispose();
  }
  return stats;
}

const ACT_QMAX: Record<string, number> = { w8a8: 127, w4a8: 127, w4a4: 7 };

/**
 * Per-layer static activation scales for `scheme` from the images of a dataset spec (a few dozen ID images).
 * Throws E_SCHEME for a scheme without integer activations, E_DATA for an empty set or one whose colour channels
 * do not match the model's input.
 */
export async function calibrateActivationScales(
  model: ModelFile,
  spec: string,
  opts: { scheme: string; patchEmbed?: boolean; head?: boolean; dataRoot?: string },
): Promise<Record<string, number>> {
  const qmax = ACT_QMAX[opts.scheme];
  if (!qmax) throw new VitguardError('E_SCHEME', `--calib sets static activation scales; scheme ${opts.scheme} has no integer activations (use w8a8, w4a8 or w4a4)`);
  const c = model.meta.config;
  const ds = await openDataset(spec, { dataRoot: opts.dataRoot });
  if (ds.size === 0) throw new VitguardError('E_DATA', `calibration set ${spec} has no images`);
  const colour = ds.channels === 1 ? 1 : 3;
  if (colour !== c.inChans) {
    throw new VitguardError('E_DATA', `calibration set ${spec} has ${colour}-channel images but the model takes ${c.inChans}-channel input: calibrate on in-distribution images`);
  }
  const per = c.inChans * c.imgSize * c.imgSize;
  const images = new Float32Array(per * ds.size);
  let n = 0;
  for await (const s of ds) {
    images.set(preprocess({ data: s.pixels, width: s.width, height: s.height, channels: s.channels }, model.meta.preprocessing, c.imgSize, c.inChans), per * n++);
  }
  const stats = await probeInputStats(model, images, n, { wasm: 'simd' });
  const scales: Record<string, number> = {};
  for (const l of quantizableLayers(model, opts)) scales[l] = Math.max(...stats.get(l)!, 1e-8) / qmax;
  return scales;
}
