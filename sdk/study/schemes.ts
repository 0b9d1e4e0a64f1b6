// The schemes a study compares, each built from the fp32 model:
//   fp32                       as is
//   w8a8 w4a8 w4a16 w4a4       sdk/quant quantizeModel (real integer kernels)
//   w4a8-oa w4a4-oa            outlier-aware (./outlier-scheme.ts), calibrated on ID images
//   sim-wWaA                   simulated (fake-quant) W-bit weights, A-bit per-token activations (A = 32: f32), W,A in 2..8

import { VitguardError } from '../errors.js';
import type { ModelFile } from '../format/model.js';
import { quantizeModel, simulateModel, SCHEMES } from '../quant/index.js';
import { OA_SCHEMES, probeInputStats, quantizeOutlierAware, type OaSchemeName } from './outlier-scheme.js';
import type { AttentionMode, WasmChoice } from '../engine/index.js';

export interface SchemeBuildOptions {
  /** ID calibration images n × [C, S, S] (normalised), needed by the outlier-aware schemes; `spec` is recorded in their plan. */
  calib?: { images: Float32Array; n: number; spec?: string };
  /** Outlier channels per layer for the -oa schemes. */
  outlierChannels?: number;
  group?: number;
  clip?: 'minmax' | 'mse';
  wasm?: WasmChoice;
}

const SIM = /^sim-w([2-8])a([2-8]|32)$/;

/** Suffix of the scheme name on a study's rows of the int8 attention path (EngineOptions.attention). */
export const ATTN_INT8_SUFFIX = '+attn_int8';

/** The scheme name a row carries: the scheme, or `<scheme>+attn_int8` on the int8 attention path. */
export function attentionLabel(scheme: string, attention: AttentionMode): string {
  return attention === 'int8' ? scheme + ATTN_INT8_SUFFIX : scheme;
}

export function isStudyScheme(s: string): boolean {
  return (SCHEMES as readonly string[]).includes(s) || (OA_SCHEMES as readonly string[]).includes(s) || SIM.test(s);
}

export function checkSchemes(list: string[]): string[] {
  if (list.length === 0) throw new VitguardError('E_USAGE', '--schemes is empty');
  for (const s of list) {
    if (!isStudyScheme(s)) {
      throw new VitguardError('E_USAGE', `unknown scheme "${s}": expected ${[...SCHEMES, ...OA_SCHEMES].join(', ')} or sim-wWaA (W, A in 2..8, A = 32 for f32 activations)`);
    }
  }
  return list;
}

/** The model at `scheme`, built from the fp32 model. */
export async function modelForScheme(fp32: ModelFile, scheme: string, opts: SchemeBuildOptions = {}): Promise<ModelFile> {
  checkSchemes([scheme]);
  if (fp32.meta.scheme.name !== 'fp32') {
    if (fp32.meta.scheme.name === scheme) return fp32;
    throw new VitguardError('E_SCHEME', `the study builds every scheme from the fp32 model; this model is already ${fp32.meta.scheme.name} (asked for ${scheme})`);
  }
  if (scheme === 'fp32') return fp32;
  const sim = SIM.exec(scheme);
  if (sim) return simulateModel(fp32, { weightBits: Number(sim[1]), actBits: Number(sim[2]), group: 0, clip: opts.clip });
  if ((OA_SCHEMES as readonly string[]).includes(scheme)) {
    if (!opts.calib || opts.calib.n === 0) throw new VitguardError('E_SCHEME', `${scheme} needs ID calibration images to find the outlier channels`);
    // the probe always runs the simd build: the plan must not depend on which build this machine picks, so that
    // `vitguard quantize --scheme w4a4-oa --calib SPEC` writes the same file eval measures (bit for bit)
    const stats = await probeInputStats(fp32, opts.calib.images, opts.calib.n, { wasm: 'simd' });
    const calib = opts.calib.spec ? { spec: opts.calib.spec, images: opts.calib.n } : undefined;
    return quantizeOutlierAware(fp32, scheme as OaSchemeName, stats, { channels: opts.outlierChannels, group: opts.group, clip: opts.clip, calib });
  }
  return quantizeModel(fp32, { scheme, group: opts.group, clip: opts.clip });
}
