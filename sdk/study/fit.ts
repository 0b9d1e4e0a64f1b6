// fit-ood as a function: fit a scorer on ID training features through the model's own engine and scheme, calibrate
// its threshold at 95 % ID true-positive rate on held-out ID images, and store both in the model's metadata.
//
// Split: the ID images are permuted with `seed`; the first `holdout` go to calibration, the rest to fitting.

import { VitguardError } from '../errors.js';
import { Engine, type WasmChoice } from '../engine/index.js';
import { encodeMeta, type ModelFile } from '../format/model.js';
import type { OpenDatasetOptions } from '../data/index.js';
import { mulberry32 } from '../data/random.js';
import { calibrateDetector, createScorer, isScorerName, SCORER_NAMES, withDetector, type OodDetector, type ScorerOptions } from '../ood/index.js';
import { calibrationImages, extractFeatures, openNonEmpty, type FeatureSet } from './features.js';
import { classifierHead } from './eval.js';
import { modelForScheme } from './schemes.js';

export interface FitOodOptions {
  /** ID training spec, e.g. fashion-mnist:train:5000. */
  id: string;
  method: string;
  /** Held-out ID images for the threshold (default: 20 % of the set, at least 1). */
  holdout?: number;
  /** Quantize the fp32 model to this scheme first (the detector is fitted on that scheme's features). */
  scheme?: string;
  /** Target ID true-positive rate of the threshold (default 0.95). */
  tpr?: number;
  scorerOptions?: ScorerOptions;
  seed?: number;
  batch?: number;
  wasm?: WasmChoice;
  data?: OpenDatasetOptions;
  /** Images run so far of the set, after each batch (a progress line). */
  progress?: (done: number, total: number) => void;
}

export interface FitOodResult {
  file: ModelFile;
  detector: OodDetector;
  nFit: number;
  nHoldout: number;
  achievedTpr: number;
}

function subset(set: FeatureSet, idx: number[]): FeatureSet {
  return {
    spec: set.spec, n: idx.length, msPerImage: set.msPerImage,
    logits: idx.map((i) => set.logits[i]), features: idx.map((i) => set.features[i]), labels: Int32Array.from(idx, (i) => set.labels[i]),
  };
}

export async function fitOod(model: ModelFile, opts: FitOodOptions): Promise<FitOodResult> {
  if (!isScorerName(opts.method)) throw new VitguardError('E_USAGE', `unknown OOD method "${opts.method}": expected ${SCORER_NAMES.join(', ')}`);
  const ds = await openNonEmpty(opts.id, 'ID', opts.data ?? {});
  let file = model;
  if (opts.scheme && opts.scheme !== model.meta.scheme.name) {
    if (model.meta.scheme.name !== 'fp32') {
      throw new VitguardError('E_SCHEME', `--scheme ${opts.scheme} asked for, but the model is already quantized as ${model.meta.scheme.name}: pass the fp32 model, or drop --scheme`);
    }
    const calib = opts.scheme.endsWith('-oa') ? await calibrationImages(model, ds, 64) : undefined;
    file = await modelForScheme(model, opts.scheme, { calib, wasm: opts.wasm });
  }
  const n = ds.size;
  const holdout = opts.holdout ?? Math.max(1, Math.floor(n / 5));
  if (!Number.isInteger(holdout) || holdout < 1) throw new VitguardError('E_USAGE', `--holdout must be a positive integer, got ${holdout}`);
  const scorer = createScorer(opts.method, opts.scorerOptions);
  if (holdout >= n && scorer.needsFit) throw new VitguardError('E_USAGE', `--holdout ${holdout} leaves no images of "${opts.id}" (${n}) to fit ${opts.method} on`);
  if (holdout > n) throw new VitguardError('E_USAGE', `--holdout ${holdout} is more than the ${n} images of "${opts.id}"`);

  const engine = await Engine.create(file, { wasm: opts.wasm, maxBatch: opts.batch ?? 32 });
  let all: FeatureSet;
  try {
    let done = 0;
    all = await extractFeatures(engine, ds, { onImages: (k) => opts.progress?.((done += k), ds.size) });
  } finally {
    engine.dispose();
  }
  // seeded permutation (Fisher–Yates)
  const rand = mulberry32(opts.seed ?? 0);
  const perm = Array.from({ length: all.n }, (_, i) => i);
  for (let i = perm.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  const held = subset(all, perm.slice(0, holdout));
  const fit = subset(all, perm.slice(holdout));
  if (scorer.needsFit) {
    scorer.fit({ features: fit.features, labels: fit.labels, logits: fit.logits, head: opts.method === 'vim' ? classifierHead(file) : undefined });
  }
  const detector = calibrateDetector(scorer, { logits: held.logits, features: held.features }, { tpr: opts.tpr ?? 0.95, scheme: file.meta.scheme.name });
  const meta = withDetector(file.meta, detector);
  let accepted = 0;
  for (let i = 0; i < held.n; i++) if (!detector.judge(held.logits[i], held.features[i]).isOOD) accepted++;
  return { file: { tensors: file.tensors, meta, metadata: encodeMeta(meta) }, detector, nFit: scorer.needsFit ? fit.n : 0, nHoldout: held.n, achievedTpr: accepted / held.n };
}
