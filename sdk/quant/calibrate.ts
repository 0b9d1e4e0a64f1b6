// Static activation scales from calibration images: run the fp32 model with every quantizable layer's input
// recorded, and take one per-tensor scale per layer, s = max|x| / qmax over all calibration tokens.
// The recording runs through the engine's scheme registry (a 'calibrate' scheme of recording f32 linears), so the
// numbers come from the same kernels and graph that will later run the quantized model.

import { VitguardError } from '../errors.js';
import type { ModelFile } from '../format/model.js';
import { Engine } from '../engine/index.js';
import { F32_LINEAR, registerScheme, type Linear, type LinearKind } from '../engine/linear.js';
import { preprocess } from '../image/preprocess.js';
import { openDataset } from '../data/index.js';
import { quantizableLayers } from './quantize.js';

interface CalibrateScheme { name: 'calibrate'; layers: string[]; absmax: Map<string, number> }

function recording(absmax: Map<string, number>): LinearKind {
  return {
    kind: 'f32-record',
    tensors: F32_LINEAR.tensors,
    create(spec, ctx): Linear {
      const inner = F32_LINEAR.create(spec, ctx);
      return {
        kind: 'f32-record',
        spec,
        bytes: inner.bytes,
        run(inPtr, outPtr, rows) {
          const x = ctx.wasm.heap.f32(inPtr, rows * spec.inFeatures);
          let m = absmax.get(spec.name) ?? 0;
          for (let i = 0; i < x.length; i++) { const a = Math.abs(x[i]); if (a > m) m = a; }
          absmax.set(spec.name, m);
          inner.run(inPtr, outPtr, rows);
        },
      };
    },
  };
}

registerScheme('calibrate', (spec, scheme) => {
  const s = scheme as unknown as CalibrateScheme;
  return s.layers.includes(spec.name) ? recording(s.absmax) : F32_LINEAR;
});

const ACT_QMAX: Record<string, number> = { w8a8: 127, w4a8: 127, w4a4: 7 };

/**
 * Per-layer static activation scales for `scheme` from the images of a dataset spec (a few dozen ID images).
 * Throws E_SCHEME for a scheme without integer activations, E_DATA for an empty set or one whose colour channels
 * do not match the model's input.
 */
export async function calibrateActivationScales(
  model: ModelFile,
  spec: string,
  opts: { scheme: string; patchEmbed?: boolean; head?: boolean; dataRoot?: string; batch?: number },
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
  const layers = quantizableLayers(model, opts);
  const absmax = new Map<string, number>();
  const scheme: CalibrateScheme = { name: 'calibrate', layers, absmax };
  const batch = opts.batch ?? 16;
  const engine = await Engine.create({ ...model, meta: { ...model.meta, scheme: { ...scheme } } }, { wasm: 'simd', maxBatch: batch });
  try {
    const per = c.inChans * c.imgSize * c.imgSize;
    let chunk: Float32Array[] = [];
    const flush = () => {
      const x = new Float32Array(per * chunk.length);
      chunk.forEach((t, i) => x.set(t, i * per));
      engine.forwardBatch(x, chunk.length);
      chunk = [];
    };
    for await (const s of ds) {
      chunk.push(preprocess({ data: s.pixels, width: s.width, height: s.height, channels: s.channels }, model.meta.preprocessing, c.imgSize, c.inChans));
      if (chunk.length === batch) flush();
    }
    if (chunk.length) flush();
  } finally {
    engine.dispose();
  }
  const scales: Record<string, number> = {};
  for (const l of layers) scales[l] = Math.max(absmax.get(l) ?? 0, 1e-8) / qmax;
  return scales;
}
