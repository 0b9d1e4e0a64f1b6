// The study as a function: models × schemes × OOD scores × OOD sets → rows of accuracy and OOD metrics.
//
// Features are computed ONCE per model × scheme × set (fit, ID, each OOD set) and every scorer is scored from them.
// Feature scorers are fitted per model × scheme on that scheme's own features of the fit set (ID training images).
// AUPR-out drop is against the same model's fp32 row for the same score and OOD set:
//   dropAbs = 100·(auprOut_fp32 − auprOut)   (percentage points)      dropRel = 100·dropAbs / (100·auprOut_fp32) (%)

import { VitguardError } from '../errors.js';
import { ATTENTION_MODES, Engine, type AttentionMode, type WasmChoice } from '../engine/index.js';
import type { ModelFile } from '../format/model.js';
import { toFloat32 } from '../format/safetensors.js';
import type { OpenDatasetOptions } from '../data/index.js';
import {
  AUPR_DEFINITION, BOOTSTRAP_DEFINITION, FPR95_DEFINITION, bootstrapOodMetrics, createScorer, isScorerName, oodMetrics,
  percentileInterval, rankScores, resampleWeights, SCORER_NAMES, type ResampleWeights,
  type ClassifierHead, type OodMetrics, type Scorer, type ScorerName, type ScorerOptions,
} from '../ood/index.js';
import { calibrationImages, extractFeatures, limitSpec, openNonEmpty, top1, type FeatureSet } from './features.js';
import { attentionLabel, checkSchemes, modelForScheme } from './schemes.js';
export { ATTN_INT8_SUFFIX, attentionLabel } from './schemes.js';
import { benchSchemes } from './latency.js';
import { dequantizeQ4, dequantizeQ8, readQ4, readQ8 } from '../quant/index.js';

export const EVAL_FORMAT = 'vitguard-eval/1';

export interface EvalModel {
  /** How rows name it (the file name). */
  name: string;
  file: ModelFile;
}

export interface EvalConfig {
  models: EvalModel[];
  /** ID test set spec, e.g. fashion-mnist:test. */
  id: string;
  /** OOD set specs. */
  ood: string[];
  schemes: string[];
  scores: ScorerName[];
  /** ID training set for the feature scorers (and the outlier-aware calibration), e.g. fashion-mnist:train:5000. */
  fit?: string;
  /** Images per ID / OOD set (class-balanced seeded sample) when the spec has no :N of its own. */
  limit?: number;
  /** Calibration images (first of the fit set) for outlier-aware schemes. Default 64. */
  calibImages?: number;
  outlierChannels?: number;
  /** Per-score options (e.g. { knn: { k: 10 } }). */
  scorerOptions?: Partial<Record<ScorerName, ScorerOptions>>;
  batch?: number;
  wasm?: WasmChoice;
  data?: OpenDatasetOptions;
  /** Batch-1 latency runs per scheme (interleaved, median; 0 = skip). */
  latencyRuns?: number;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
  /** Images run so far of all the study will run (every model × scheme × set), after each batch (a progress line). */
  progress?: (done: number, total: number, label: string) => void;
  /** Bootstrap resamples for the confidence intervals (default 1000; 0 = none). */
  bootstrap?: number;
  /** Seed of the bootstrap resamples (default 0). */
  seed?: number;
  /**
   * Attention paths (EngineOptions.attention): every scheme runs once per path. Rows, models and intervals of the
   * int8 path carry the scheme name `<scheme>+attn_int8` (attentionLabel); with both paths, attentionDeltas compares
   * them on the same images. Default ['f32'].
   */
  attention?: AttentionMode[];
}


/**
 * int8 attention against f32 attention, per model × scheme × score (and 'mean' over scores), on the same images:
 * int8 − f32 in points (top-1 on the ID set; AUROC and AUPR-out as means over the OOD sets, intervals paired over
 * the shared bootstrap resamples), and the share of ID images whose top-1 the two paths agree on.
 */
export interface AttentionDelta {
  model: string;
  scheme: string;
  score: string;
  top1F32: number;
  top1Int8: number;
  top1DeltaPts: number;
  top1Agreement: number;
  aurocDeltaPts: number;
  auprOutDeltaPts: number;
  aurocCi: Interval | null;
  auprOutCi: Interval | null;
}

/** A 95 % (by default) percentile-bootstrap interval [lo, hi]. */
export type Interval = [number, number];

/** Intervals of one row (or one mean over OOD sets): AUPR-out, AUROC, and the drop vs fp32 in points (paired). */
export interface RowIntervals {
  auprOut: Interval;
  auroc: Interval;
  /** 100·(fp32 − this) AUPR-out, paired over the same resampled images; null without an fp32 row. */
  auprOutDropAbs: Interval | null;
}

export interface EvalRow {
  model: string;
  arch: string;
  scheme: string;
  score: ScorerName;
  ood: string;
  accuracy: number;
  auroc: number;
  auprIn: number;
  auprOut: number;
  fpr95: number;
  /** 100·(fp32 AUPR-out − this AUPR-out): percentage points; null without an fp32 row. */
  auprOutDropAbs: number | null;
  /** Drop relative to fp32 AUPR-out, %; null without an fp32 row. */
  auprOutDropRel: number | null;
  /** Bootstrap intervals (absent with bootstrap 0). */
  ci?: RowIntervals;
  nId: number;
  nOod: number;
  nFit: number;
}

export interface EvalModelSummary {
  model: string;
  arch: string;
  scheme: string;
  accuracy: number;
  nId: number;
  /** Forward milliseconds per image during feature extraction (batched; noisy on a shared machine). */
  msPerImage: number;
  /** Model file bytes (tensors). */
  weightBytes: number;
}

export interface EvalResult {
  format: typeof EVAL_FORMAT;
  setup: {
    id: string;
    ood: string[];
    fit: string | null;
    schemes: string[];
    scores: ScorerName[];
    limit: number | null;
    wasm: string;
    /** EvalConfig.attention, when given. */
    attention?: AttentionMode[];
    /** The specs actually read (after --limit). */
    specs: { id: string; ood: string[]; fit: string | null };
  };
  definitions: { fpr95: string; aupr: string; drop: string };
  models: EvalModelSummary[];
  rows: EvalRow[];
  /** Batch-1 forward latency per model × scheme, interleaved medians (with latencyRuns). */
  latency: Array<{ model: string; scheme: string; medianMs: number; runs: number; wasm: string }>;
  /** How the intervals were made; null with bootstrap 0. */
  bootstrap?: { resamples: number; seed: number; level: number; method: string; seconds: number } | null;
  /** int8 against f32 attention (EvalConfig.attention with both paths); absent otherwise. */
  attentionDeltas?: AttentionDelta[];
  /** Intervals of the means over OOD sets (summarize()) per model × scheme × score. */
  summaryCi?: Array<{ model: string; scheme: string; score: string } & RowIntervals>;
  /**
   * Per model × outlier-aware scheme × score (and 'mean' over scores): the interval of (lost plain − lost oa) in
   * points, mean over OOD sets, paired — what the outlier-aware scheme wins back; one that holds 0 is not separated.
   */
  oaCi?: Array<{ model: string; plain: string; oa: string; score: string; gainPts: Interval }>;
  /**
   * With several models: each later model against the first, on the same images (paired), mean over OOD sets, per
   * scheme × score (and 'mean' over scores). kind 'drop': drop(model) − drop(first) in points (does this model lose
   * more AUPR-out to the scheme?); kind 'gain': points won back by an outlier-aware scheme, model − first.
   */
  modelDiffs?: Array<{ model: string; vs: string; kind: 'drop' | 'gain'; scheme: string; score: string; diffPts: number; ci: Interval | null }>;
  seconds: number;
}

export const DROP_DEFINITION = 'AUPR-out drop vs the same model\'s fp32 for the same score and OOD set: absolute in percentage points ' +
  '(100·(fp32 − scheme)) and relative in % of the fp32 AUPR-out';

// --- scoring precomputed features (pure) -----------------------------------------------------------------------

export function parseScores(list: string[]): ScorerName[] {
  if (list.length === 0) throw new VitguardError('E_USAGE', '--scores is empty');
  for (const s of list) if (!isScorerName(s)) throw new VitguardError('E_USAGE', `unknown score "${s}": expected ${SCORER_NAMES.join(', ')}`);
  return list as ScorerName[];
}

/** The classifier head (cls head) of a model file as f32 (dequantized when the scheme quantized it): ViM's origin. */
export function classifierHead(file: ModelFile): ClassifierHead {
  const t = file.tensors;
  const b = t.get('head.bias');
  if (!b) throw new VitguardError('E_TENSOR_MISSING', 'ViM needs the classifier head: head.bias is missing');
  const w = t.get('head.weight');
  if (w) return { weight: toFloat32(w), bias: toFloat32(b) };
  const q = t.get('head.weight.q'), s = t.get('head.weight.scale');
  if (!q || !s) throw new VitguardError('E_TENSOR_MISSING', 'ViM needs the classifier head: neither head.weight nor head.weight.q/.scale is in the model file');
  const weight = q.dtype === 'I8' ? dequantizeQ8(readQ8('head', q, s)) : dequantizeQ4(readQ4('head', q, s));
  return { weight, bias: toFloat32(b) };
}

/** Scorers fitted on `fit` (feature scorers), created as is (logit scorers). */
export function fitScorers(scores: ScorerName[], fit: FeatureSet | null, head: ClassifierHead | null, options: Partial<Record<ScorerName, ScorerOptions>> = {}): Map<ScorerName, Scorer> {
  const out = new Map<ScorerName, Scorer>();
  for (const name of scores) {
    const s = createScorer(name, options[name]);
    if (s.needsFit) {
      if (!fit) throw new VitguardError('E_USAGE', `score "${name}" needs fitting on ID training features: pass --fit SPEC (e.g. fashion-mnist:train:5000)`);
      s.fit({ features: fit.features, labels: fit.labels, logits: fit.logits, head: head ?? undefined });
    }
    out.set(name, s);
  }
  return out;
}

/** Scores of a whole set, with the set named in any error (a NaN logit or feature is an error, never a 0.5). */
export function scoreSet(scorer: Scorer, set: FeatureSet): Float64Array {
  const out = new Float64Array(set.n);
  for (let i = 0; i < set.n; i++) {
    try {
      out[i] = scorer.score(set.logits[i], set.features[i]);
    } catch (e) {
      const code = e instanceof VitguardError ? e.code : 'E_OOD';
      throw new VitguardError(code, `scoring image ${i} of "${set.spec}" with ${scorer.name}: ${(e as Error).message}`, { cause: e });
    }
  }
  return out;
}

/** Metrics of every scorer on ID against each OOD set. */
export function scoreFeatureSets(scorers: Map<ScorerName, Scorer>, id: FeatureSet, ood: FeatureSet[]): Array<{ score: ScorerName; ood: string; metrics: OodMetrics }> {
  const out: Array<{ score: ScorerName; ood: string; metrics: OodMetrics }> = [];
  for (const [name, s] of scorers) {
    const idScores = scoreSet(s, id);
    for (const o of ood) out.push({ score: name, ood: o.spec, metrics: oodMetrics(idScores, scoreSet(s, o)) });
  }
  return out;
}

/** Fill auprOutDropAbs / auprOutDropRel from each model's fp32 rows (in place). */
export function addDrops(rows: EvalRow[]): EvalRow[] {
  const ref = new Map<string, number>();
  const key = (r: EvalRow) => `${r.model}\u0000${r.score}\u0000${r.ood}`;
  for (const r of rows) if (r.scheme === 'fp32') ref.set(key(r), r.auprOut);
  for (const r of rows) {
    const f = ref.get(key(r));
    if (f === undefined) continue;
    r.auprOutDropAbs = 100 * (f - r.auprOut);
    r.auprOutDropRel = f > 0 ? (100 * (f - r.auprOut)) / f : null;
  }
  return rows;
}

// --- the whole study ---------------------------------------------------------------------------------------------

export async function runEval(cfg: EvalConfig): Promise<EvalResult> {
  const t0 = performance.now();
  const log = cfg.log ?? (() => {});
  if (cfg.models.length === 0) throw new VitguardError('E_USAGE', 'no --model given');
  if (cfg.ood.length === 0) throw new VitguardError('E_USAGE', 'no --ood set given');
  checkSchemes(cfg.schemes);
  parseScores(cfg.scores);
  const attns: AttentionMode[] = cfg.attention?.length ? [...new Set(cfg.attention)] : ['f32'];
  for (const a of attns) if (!ATTENTION_MODES.includes(a)) throw new VitguardError('E_USAGE', `unknown attention path "${a}": expected ${ATTENTION_MODES.join(', ')}`);
  const labels = cfg.schemes.flatMap((s) => attns.map((a) => attentionLabel(s, a)));
  const needsFit = cfg.scores.some((s) => createScorer(s).needsFit) || cfg.schemes.some((s) => s.endsWith('-oa'));
  if (needsFit && !cfg.fit) {
    const which = [...cfg.scores.filter((s) => createScorer(s).needsFit), ...cfg.schemes.filter((s) => s.endsWith('-oa'))];
    throw new VitguardError('E_USAGE', `${which.join(', ')} need(s) ID training images: pass --fit SPEC (e.g. fashion-mnist:train:5000)`);
  }
  const dataOpts = cfg.data ?? {};
  const idSpec = limitSpec(cfg.id, cfg.limit);
  const oodSpecs = cfg.ood.map((s) => limitSpec(s, cfg.limit));
  const idDs = await openNonEmpty(idSpec, 'ID', dataOpts);
  if (!idDs.labels) throw new VitguardError('E_DATA', `ID set "${idSpec}" has no class labels (accuracy and Mahalanobis need them)`);
  const oodDs = await Promise.all(oodSpecs.map((s) => openNonEmpty(s, 'OOD', dataOpts)));
  const fitDs = cfg.fit && needsFit ? await openNonEmpty(cfg.fit, 'fit', dataOpts) : null;
  if (fitDs && !fitDs.labels && cfg.scores.some((s) => s === 'mahalanobis' || s === 'rmahalanobis')) {
    throw new VitguardError('E_DATA', `fit set "${cfg.fit}" has no class labels; Mahalanobis needs them`);
  }
  log(`eval: ID ${idSpec} (${idDs.size}), OOD ${oodDs.map((d) => `${d.spec} (${d.size})`).join(', ')}${fitDs ? `, fit ${fitDs.spec} (${fitDs.size})` : ''}` +
    (cfg.limit ? ` — sampled with --limit ${cfg.limit}` : ''));

  const rows: EvalRow[] = [];
  const models: EvalModelSummary[] = [];
  const latency: EvalResult['latency'] = [];
  let wasm = '';
  // bootstrap: one set of resample weights per image set, shared by every model × scheme × score (paired)
  const B = cfg.bootstrap ?? DEFAULT_BOOTSTRAP;
  if (!(Number.isInteger(B) && B >= 0)) throw new VitguardError('E_USAGE', `bootstrap resamples must be an integer ≥ 0, got ${cfg.bootstrap}`);
  const seed = cfg.seed ?? 0;
  const weights = new Map<string, ResampleWeights>();
  const cached = (key: string, n: number, stream: number) => {
    let w = weights.get(key);
    if (!w || w.n !== n) weights.set(key, (w = resampleWeights(n, B, seed, stream)));
    return w;
  };
  const boot = B > 0 ? { id: (n: number) => cached('id', n, 0), ood: (k: number, n: number) => cached(`ood${k}`, n, k + 1) } : null;
  const resampled = new Map<string, BootMatrix>();
  let bootSeconds = 0;
  const perScheme = idDs.size + oodDs.reduce((s, d) => s + d.size, 0) + (fitDs?.size ?? 0);
  const totalImages = perScheme * cfg.models.length * labels.length;
  const idPreds = new Map<string, Int32Array>(); // model × label → ID top-1 (attention agreement)
  let imagesDone = 0;
  for (const m of cfg.models) {
    const calib = cfg.schemes.some((s) => s.endsWith('-oa')) ? await calibrationImages(m.file, fitDs!, cfg.calibImages ?? 64) : undefined;
    for (const plainScheme of cfg.schemes) {
      const file = await modelForScheme(m.file, plainScheme, { calib, outlierChannels: cfg.outlierChannels, wasm: cfg.wasm });
      for (const attention of attns) {
        const ts = performance.now();
        const scheme = attentionLabel(plainScheme, attention);
        const engine = await Engine.create(file, { wasm: cfg.wasm, maxBatch: cfg.batch ?? 32, attention });
        wasm = engine.wasm;
        const label = `${m.name} ${scheme}`;
        const onImages = (n: number) => cfg.progress?.((imagesDone += n), totalImages, label);
        try {
          const id = await extractFeatures(engine, idDs, { onImages });
          const ood: FeatureSet[] = [];
          for (const d of oodDs) ood.push(await extractFeatures(engine, d, { onImages }));
          const fit = fitDs ? await extractFeatures(engine, fitDs, { onImages }) : null;
          const head = cfg.scores.includes('vim') ? classifierHead(file) : null;
          const scorers = fitScorers(cfg.scores, fit, head, cfg.scorerOptions);
          const accuracy = top1(id);
          if (attns.length > 1) idPreds.set(bootKey(m.name, scheme, ''), argmaxes(id.logits));
          let weightBytes = 0;
          for (const t of file.tensors.values()) weightBytes += t.bytes.byteLength;
          models.push({ model: m.name, arch: file.meta.arch, scheme, accuracy, nId: id.n, msPerImage: id.msPerImage, weightBytes });
          for (const [name, scorer] of scorers) {
            const idScores = scoreSet(scorer, id);
            const perSet: BootMatrix = { auroc: [], auprOut: [] };
            ood.forEach((o, k) => {
              const oodScores = scoreSet(scorer, o);
              const mt = oodMetrics(idScores, oodScores);
              rows.push({
                model: m.name, arch: file.meta.arch, scheme, score: name, ood: o.spec, accuracy,
                auroc: mt.auroc, auprIn: mt.auprIn, auprOut: mt.auprOut, fpr95: mt.fpr95,
                auprOutDropAbs: null, auprOutDropRel: null, nId: mt.nId, nOod: mt.nOod, nFit: fit?.n ?? 0,
              });
              if (boot) {
                const tb = performance.now();
                const r = bootstrapOodMetrics(rankScores(idScores, oodScores), boot.id(id.n), boot.ood(k, o.n));
                perSet.auroc.push(r.auroc);
                perSet.auprOut.push(r.auprOut);
                bootSeconds += (performance.now() - tb) / 1000;
              }
            });
            if (boot) resampled.set(bootKey(m.name, scheme, name), perSet);
          }
          log(`  ${m.name} ${scheme}: top-1 ${(100 * accuracy).toFixed(2)} %, ${id.msPerImage.toFixed(2)} ms/image, ${((performance.now() - ts) / 1000).toFixed(1)} s`);
        } finally {
          engine.dispose();
        }
      }
    }
    if (cfg.latencyRuns) {
      for (const l of await benchSchemes(m.file, cfg.schemes, { runs: cfg.latencyRuns, wasm: cfg.wasm, build: { calib, outlierChannels: cfg.outlierChannels }, attention: attns })) {
        latency.push({ model: m.name, ...l });
      }
      log(`  ${m.name} latency: ${latency.filter((l) => l.model === m.name).map((l) => `${l.scheme} ${l.medianMs.toFixed(2)} ms`).join(', ')}`);
    }
  }
  addDrops(rows);
  const tb = performance.now();
  const intervals = boot ? bootstrapIntervals(rows, labels, cfg.scores, resampled) : { summaryCi: [], oaCi: [] };
  const modelDiffs = modelDifferences(rows, cfg.models.map((m) => m.name), labels, cfg.scores, boot ? resampled : null);
  const attentionDeltas = attns.includes('f32') && attns.includes('int8')
    ? attentionDifferences(rows, models, cfg.schemes, cfg.scores, idPreds, boot ? resampled : null) : undefined;
  bootSeconds += (performance.now() - tb) / 1000;
  if (boot) log(`  bootstrap: ${B} resamples (seed ${seed}) in ${bootSeconds.toFixed(1)} s`);
  return {
    format: EVAL_FORMAT,
    setup: {
      id: cfg.id, ood: cfg.ood, fit: cfg.fit ?? null, schemes: cfg.schemes, scores: cfg.scores, limit: cfg.limit ?? null, wasm,
      ...(cfg.attention?.length ? { attention: attns } : {}),
      specs: { id: idSpec, ood: oodSpecs, fit: fitDs ? fitDs.spec : null },
    },
    definitions: { fpr95: FPR95_DEFINITION, aupr: AUPR_DEFINITION, drop: DROP_DEFINITION },
    models,
    rows,
    latency,
    bootstrap: boot ? { resamples: B, seed, level: CI_LEVEL, method: BOOTSTRAP_DEFINITION, seconds: bootSeconds } : null,
    ...intervals,
    modelDiffs,
    ...(attentionDeltas ? { attentionDeltas } : {}),
    seconds: (performance.now() - t0) / 1000,
  };
}

// --- bootstrap intervals -----------------------------------------------------------------------------------------

export const DEFAULT_BOOTSTRAP = 1000;
export const CI_LEVEL = 0.95;

/** Per OOD set (in the order of the study's sets), the B resampled values. */
interface BootMatrix { auroc: Float64Array[]; auprOut: Float64Array[] }

const bootKey = (model: string, scheme: string, score: string) => `${model}\u0000${scheme}\u0000${score}`;

/** Elementwise mean of equal-length arrays. */
function meanOf(xs: Float64Array[]): Float64Array {
  const out = new Float64Array(xs[0].length);
  for (const x of xs) for (let b = 0; b < out.length; b++) out[b] += x[b] / xs.length;
  return out;
}

/** 100·(a − b) elementwise: a drop or a gain in points. */
function pointsDiff(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = 100 * (a[i] - b[i]);
  return out;
}

/**
 * Fill each row's `ci` (in place) and build the intervals of the means over OOD sets and of the outlier-aware gains,
 * all from the same resampled images (paired).
 */
export function bootstrapIntervals(rows: EvalRow[], schemes: string[], scores: string[], resampled: Map<string, BootMatrix>): Required<Pick<EvalResult, 'summaryCi' | 'oaCi'>> {
  const ci = (v: Float64Array) => percentileInterval(v, CI_LEVEL);
  const setIndex = new Map<string, Map<string, number>>(); // model → OOD spec → column
  for (const r of rows) {
    if (!setIndex.has(r.model)) setIndex.set(r.model, new Map());
    const m = setIndex.get(r.model)!;
    if (!m.has(r.ood)) m.set(r.ood, m.size);
  }
  for (const r of rows) {
    const mat = resampled.get(bootKey(r.model, r.scheme, r.score));
    if (!mat) continue;
    const k = setIndex.get(r.model)!.get(r.ood)!;
    const ref = resampled.get(bootKey(r.model, 'fp32', r.score));
    r.ci = {
      auprOut: ci(mat.auprOut[k]), auroc: ci(mat.auroc[k]),
      auprOutDropAbs: ref ? ci(pointsDiff(ref.auprOut[k], mat.auprOut[k])) : null,
    };
  }
  const summaryCi: NonNullable<EvalResult['summaryCi']> = [];
  const oaCi: NonNullable<EvalResult['oaCi']> = [];
  for (const model of setIndex.keys()) {
    for (const scheme of schemes) {
      for (const score of scores) {
        const mat = resampled.get(bootKey(model, scheme, score));
        if (!mat) continue;
        const ref = resampled.get(bootKey(model, 'fp32', score));
        const mean = meanOf(mat.auprOut);
        summaryCi.push({
          model, scheme, score, auprOut: ci(mean), auroc: ci(meanOf(mat.auroc)),
          auprOutDropAbs: ref ? ci(pointsDiff(meanOf(ref.auprOut), mean)) : null,
        });
      }
    }
    for (const oa of schemes.filter((s) => s.endsWith('-oa'))) {
      const plain = oa.slice(0, -3);
      const gains: Float64Array[] = [];
      for (const score of scores) {
        const a = resampled.get(bootKey(model, oa, score)), p = resampled.get(bootKey(model, plain, score));
        if (!a || !p || !resampled.has(bootKey(model, 'fp32', score))) continue;
        // lost plain − lost oa = (fp32 − plain) − (fp32 − oa) = oa − plain
        const g = pointsDiff(meanOf(a.auprOut), meanOf(p.auprOut));
        gains.push(g);
        oaCi.push({ model, plain, oa, score, gainPts: ci(g) });
      }
      if (gains.length) oaCi.push({ model, plain, oa, score: 'mean', gainPts: ci(meanOf(gains)) });
    }
  }
  return { summaryCi, oaCi };
}

/**
 * Each model after the first against the first (EvalResult.modelDiffs): drop differences for every non-fp32 scheme and
 * gain differences for the outlier-aware ones, point values from the rows, intervals from the shared resamples.
 */
export function modelDifferences(rows: EvalRow[], models: string[], schemes: string[], scores: string[], resampled: Map<string, BootMatrix> | null): NonNullable<EvalResult['modelDiffs']> {
  const out: NonNullable<EvalResult['modelDiffs']> = [];
  if (models.length < 2 || !schemes.includes('fp32')) return out;
  const [first, ...others] = models;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  // point: mean over OOD sets of AUPR-out (as a fraction)
  const point = (model: string, scheme: string, score: string) => mean(rows.filter((r) => r.model === model && r.scheme === scheme && r.score === score).map((r) => r.auprOut));
  const boot = (model: string, scheme: string, score: string) => {
    const m = resampled?.get(bootKey(model, scheme, score));
    return m ? meanOf(m.auprOut) : null;
  };
  // drop: 100·(fp32 − s); gain: 100·(oa − plain)
  const measure = (kind: 'drop' | 'gain', scheme: string) => kind === 'drop' ? ['fp32', scheme] as const : [scheme, scheme.slice(0, -3)] as const;
  for (const model of others) {
    for (const scheme of schemes.filter((s) => s !== 'fp32')) {
      const kinds: Array<'drop' | 'gain'> = ['drop'];
      if (scheme.endsWith('-oa') && schemes.includes(scheme.slice(0, -3))) kinds.push('gain');
      for (const kind of kinds) {
        const [a, b] = measure(kind, scheme);
        const points: number[] = [];
        const boots: Float64Array[] = [];
        for (const score of scores) {
          const p = 100 * ((point(model, a, score) - point(model, b, score)) - (point(first, a, score) - point(first, b, score)));
          const ma = boot(model, a, score), mb = boot(model, b, score), fa = boot(first, a, score), fb = boot(first, b, score);
          let d: Float64Array | null = null;
          if (ma && mb && fa && fb) {
            d = new Float64Array(ma.length);
            for (let i = 0; i < d.length; i++) d[i] = 100 * ((ma[i] - mb[i]) - (fa[i] - fb[i]));
            boots.push(d);
          }
          points.push(p);
          out.push({ model, vs: first, kind, scheme, score, diffPts: p, ci: d ? percentileInterval(d, CI_LEVEL) : null });
        }
        out.push({ model, vs: first, kind, scheme, score: 'mean', diffPts: mean(points), ci: boots.length === scores.length ? percentileInterval(meanOf(boots), CI_LEVEL) : null });
      }
    }
  }
  return out;
}

// --- int8 against f32 attention ------------------------------------------------------------------------------------

function argmaxes(logits: Float32Array[]): Int32Array {
  return Int32Array.from(logits, (z) => {
    let a = 0;
    for (let j = 1; j < z.length; j++) if (z[j] > z[a]) a = j;
    return a;
  });
}

/** EvalResult.attentionDeltas: each scheme's int8-attention rows against its f32-attention rows (int8 − f32). */
export function attentionDifferences(rows: EvalRow[], models: EvalModelSummary[], schemes: string[], scores: string[], idPreds: Map<string, Int32Array>, resampled: Map<string, BootMatrix> | null): AttentionDelta[] {
  const out: AttentionDelta[] = [];
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  for (const model of new Set(models.map((m) => m.model))) {
    for (const scheme of schemes) {
      const q = attentionLabel(scheme, 'int8');
      const mf = models.find((m) => m.model === model && m.scheme === scheme), mq = models.find((m) => m.model === model && m.scheme === q);
      if (!mf || !mq) continue;
      const pf = idPreds.get(bootKey(model, scheme, '')), pq = idPreds.get(bootKey(model, q, ''));
      let agree = 0;
      if (pf && pq) for (let i = 0; i < pf.length; i++) if (pf[i] === pq[i]) agree++;
      const base = { model, scheme, top1F32: mf.accuracy, top1Int8: mq.accuracy, top1DeltaPts: 100 * (mq.accuracy - mf.accuracy), top1Agreement: pf && pq ? agree / pf.length : NaN };
      const perScore: AttentionDelta[] = [];
      const bootA: Float64Array[] = [], bootP: Float64Array[] = [];
      for (const score of scores) {
        const rf = rows.filter((r) => r.model === model && r.scheme === scheme && r.score === score);
        const rq = rows.filter((r) => r.model === model && r.scheme === q && r.score === score);
        if (!rf.length || rf.length !== rq.length) continue;
        const bf = resampled?.get(bootKey(model, scheme, score)), bq = resampled?.get(bootKey(model, q, score));
        let aurocCi: Interval | null = null, auprOutCi: Interval | null = null;
        if (bf && bq) {
          const a = pointsDiff(meanOf(bq.auroc), meanOf(bf.auroc)), p = pointsDiff(meanOf(bq.auprOut), meanOf(bf.auprOut));
          bootA.push(a);
          bootP.push(p);
          aurocCi = percentileInterval(a, CI_LEVEL);
          auprOutCi = percentileInterval(p, CI_LEVEL);
        }
        perScore.push({
          ...base, score,
          aurocDeltaPts: 100 * (mean(rq.map((r) => r.auroc)) - mean(rf.map((r) => r.auroc))),
          auprOutDeltaPts: 100 * (mean(rq.map((r) => r.auprOut)) - mean(rf.map((r) => r.auprOut))),
          aurocCi, auprOutCi,
        });
      }
      out.push(...perScore);
      if (perScore.length > 1) {
        const all = bootP.length === perScore.length;
        out.push({
          ...base, score: 'mean',
          aurocDeltaPts: mean(perScore.map((d) => d.aurocDeltaPts)), auprOutDeltaPts: mean(perScore.map((d) => d.auprOutDeltaPts)),
          aurocCi: all ? percentileInterval(meanOf(bootA), CI_LEVEL) : null, auprOutCi: all ? percentileInterval(meanOf(bootP), CI_LEVEL) : null,
        });
      }
    }
  }
  return out;
}

// --- summaries ---------------------------------------------------------------------------------------------------

export interface SchemeSummary {
  model: string;
  scheme: string;
  score: ScorerName;
  /** Mean over OOD sets. */
  auprOut: number;
  auroc: number;
  auprOutDropAbs: number | null;
  auprOutDropRel: number | null;
}

/** Per model × scheme × score: means over the OOD sets. */
export function summarize(rows: EvalRow[]): SchemeSummary[] {
  const groups = new Map<string, EvalRow[]>();
  for (const r of rows) {
    const k = `${r.model}\u0000${r.scheme}\u0000${r.score}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(r);
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const meanOrNull = (xs: Array<number | null>) => (xs.some((x) => x === null) ? null : mean(xs as number[]));
  return [...groups.values()].map((g) => ({
    model: g[0].model, scheme: g[0].scheme, score: g[0].score,
    auprOut: mean(g.map((r) => r.auprOut)), auroc: mean(g.map((r) => r.auroc)),
    auprOutDropAbs: meanOrNull(g.map((r) => r.auprOutDropAbs)), auprOutDropRel: meanOrNull(g.map((r) => r.auprOutDropRel)),
  }));
}
