// Bootstrap confidence intervals for the OOD metrics, over images.
//
// Stratified: each resample draws nId ID images from the ID set and nOod OOD images from the OOD set, with
// replacement, so the OOD:ID ratio (which AUPR depends on) stays fixed. A resample is a vector of multiplicities
// (how often each image was drawn), not a copy of the scores: the scores are ranked ONCE (tied-score groups, as
// sdk/ood/metrics.ts groups them), and each resample's AUROC and AUPR-out are the group formulas on weighted group
// counts — O(n) per resample, no sorting.
//
// Paired: the same multiplicities serve every model, scheme and score of a study (image i is the same image in every
// scheme's features), so a difference (fp32 AUPR-out − w4a4 AUPR-out) is resampled as a difference of the same images
// and its interval is far narrower than the two intervals side by side would suggest.
//
// Interval: percentile (the level's two tail quantiles of the resampled values, linear interpolation as numpy's
// default), the plain bootstrap that OOD and ML evaluation papers report.

import { VitguardError } from '../errors.js';
import { mixSeed, mulberry32 } from '../data/random.js';

/** B resamples of n items: w[b·n + i] = how many times item i was drawn in resample b (the counts sum to n). */
export interface ResampleWeights {
  B: number;
  n: number;
  w: Uint16Array;
}

export const BOOTSTRAP_DEFINITION =
  'percentile bootstrap over images, stratified (ID and OOD images resampled separately with replacement, counts ' +
  'kept), paired (the same resampled images for every model, scheme and score, so a drop is the resampled difference)';

/** Seeded multiplicities for B resamples of n items. `stream` separates sets sharing a seed (ID = 0, OOD set k = k + 1). */
export function resampleWeights(n: number, B: number, seed: number, stream = 0): ResampleWeights {
  if (!(Number.isInteger(n) && n >= 1 && n <= 65535)) throw new VitguardError('E_INPUT', `bootstrap: a set must have 1..65535 images, got ${n}`);
  if (!(Number.isInteger(B) && B >= 1)) throw new VitguardError('E_INPUT', `bootstrap: resamples must be a positive integer, got ${B}`);
  const rand = mulberry32(mixSeed(seed, stream, n));
  const w = new Uint16Array(B * n);
  for (let b = 0; b < B; b++) {
    const o = b * n;
    for (let k = 0; k < n; k++) w[o + Math.floor(rand() * n)]++;
  }
  return { B, n, w };
}

/**
 * Scores of one ID and one OOD set ranked once: tied-score groups in order of INCREASING score (= decreasing OOD
 * score, OOD positive), gId[i] / gOod[j] the group of each image.
 */
export interface RankedScores {
  groups: number;
  gId: Uint32Array;
  gOod: Uint32Array;
}

export function rankScores(idScores: ArrayLike<number>, oodScores: ArrayLike<number>): RankedScores {
  const nId = idScores.length, nOod = oodScores.length;
  const n = nId + nOod;
  const vals = new Float64Array(n);
  for (let i = 0; i < nId; i++) vals[i] = idScores[i];
  for (let j = 0; j < nOod; j++) vals[nId + j] = oodScores[j];
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(vals[i])) throw new VitguardError('E_NONFINITE', `bootstrap: score ${i} is ${vals[i]}`);
  }
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => vals[a] - vals[b]);
  const group = new Uint32Array(n);
  let g = -1;
  for (let k = 0; k < n; k++) {
    if (k === 0 || vals[order[k]] !== vals[order[k - 1]]) g++;
    group[order[k]] = g;
  }
  return { groups: g + 1, gId: group.subarray(0, nId), gOod: group.subarray(nId) };
}

/**
 * AUROC and AUPR-out (average precision, OOD positive; the step sum of metrics.ts) of every resample.
 * ids / oods: the resample weights of the ID and OOD sets (same B).
 */
export function bootstrapOodMetrics(r: RankedScores, ids: ResampleWeights, oods: ResampleWeights): { auroc: Float64Array; auprOut: Float64Array } {
  const nId = r.gId.length, nOod = r.gOod.length;
  if (ids.n !== nId || oods.n !== nOod || ids.B !== oods.B) {
    throw new VitguardError('E_INPUT', `bootstrap: weights for ${ids.n} ID / ${oods.n} OOD images (B ${ids.B} / ${oods.B}) do not fit ${nId} / ${nOod} scores`);
  }
  const B = ids.B, G = r.groups;
  const pos = new Float64Array(G); // OOD (positive) weight per group
  const neg = new Float64Array(G); // ID weight per group
  const auroc = new Float64Array(B), auprOut = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    pos.fill(0);
    neg.fill(0);
    const wo = oods.w.subarray(b * nOod, (b + 1) * nOod), wi = ids.w.subarray(b * nId, (b + 1) * nId);
    for (let j = 0; j < nOod; j++) pos[r.gOod[j]] += wo[j];
    for (let i = 0; i < nId; i++) neg[r.gId[i]] += wi[i];
    // groups in decreasing OOD-score order = increasing score: g = 0 first
    let tp = 0, fp = 0, ap = 0, wins = 0;
    for (let g = 0; g < G; g++) {
      const p = pos[g], q = neg[g];
      if (p === 0 && q === 0) continue; // a group no drawn image falls in
      // positives beat every negative strictly below them (not yet passed), tie their own group's
      wins += p * (nId - fp - q) + 0.5 * p * q;
      tp += p;
      fp += q;
      if (p > 0) ap += (p / nOod) * (tp / (tp + fp));
    }
    auroc[b] = wins / (nOod * nId);
    auprOut[b] = ap;
  }
  return { auroc, auprOut };
}

/** The central `level` interval of `values` by percentiles (linear interpolation between order statistics). */
export function percentileInterval(values: ArrayLike<number>, level = 0.95): [number, number] {
  const n = values.length;
  if (n === 0) throw new VitguardError('E_INPUT', 'bootstrap: no resampled values');
  if (!(level > 0 && level < 1)) throw new VitguardError('E_INPUT', `bootstrap: level must be in (0, 1), got ${level}`);
  const s = Float64Array.from(values).sort();
  const q = (p: number) => {
    const h = (n - 1) * p;
    const lo = Math.floor(h), hi = Math.min(n - 1, lo + 1);
    return s[lo] + (h - lo) * (s[hi] - s[lo]);
  };
  const a = (1 - level) / 2;
  return [q(a), q(1 - a)];
}

/** Whether an interval leaves out `value` (by default 0: a difference the interval separates from none). */
export function separates(ci: [number, number] | null | undefined, value = 0): boolean {
  return !!ci && (ci[0] > value || ci[1] < value);
}
