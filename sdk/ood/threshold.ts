// A deployable OOD detector: a fitted scorer plus a threshold calibrated on held-out ID scores.
//
// Threshold at ID true-positive rate `tpr` (default 0.95): with the n held-out ID scores sorted ascending
// s(0) ≤ … ≤ s(n−1) and r = ⌊(1 − tpr)·n⌋ (how many may be rejected),
//   t = (s(r−1) + s(r)) / 2   (midpoint between the largest rejected and the smallest accepted), or t = s(0) if r = 0.
// An image is OOD iff score < t. So exactly n − r held-out ID scores are ≥ t when scores are distinct: the smallest
// count ≥ tpr·n (exactly 95 % whenever 0.05·n is a whole number); ties at s(r−1) = s(r) are all accepted.

import { VitguardError } from '../errors.js';
import { parseTaggedJSON } from './codec.js';
import { scorerFromJSON, type Scorer, type ScorerJSON, type ScorerName } from './scorers.js';

export const DETECTOR_JSON_FORMAT = 'vitguard-ood/1';
/** The __metadata__ key under which a model file stores its detector (a JSON string of DetectorJSON). */
export const OOD_META_KEY = 'ood';

export interface Calibration {
  threshold: number;
  /** The target ID true-positive rate. */
  tpr: number;
  /** Fraction of the held-out ID scores with score ≥ threshold (≥ tpr). */
  achievedTpr: number;
  nHeldout: number;
}

/** The threshold that accepts a fraction `tpr` of the held-out ID scores (definition at the top of this file). */
export function calibrateThreshold(idScores: ArrayLike<number>, tpr = 0.95): Calibration {
  if (!(tpr > 0 && tpr <= 1)) throw new VitguardError('E_OOD', `target ID true-positive rate must be in (0, 1], got ${tpr}`);
  const n = idScores.length;
  if (n === 0) throw new VitguardError('E_OOD', 'no held-out ID scores to calibrate the threshold on (--holdout must be > 0)');
  const s = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = idScores[i];
    if (!Number.isFinite(v)) throw new VitguardError('E_NONFINITE', `held-out ID score [${i}] is ${v}`);
    s[i] = v;
  }
  s.sort();
  // r = ⌊(1 − tpr)·n⌋, guarded against 0.05·100 = 5.000000000000004 style rounding.
  const r = Math.floor((1 - tpr) * n + 1e-9);
  const threshold = r === 0 ? s[0] : (s[r - 1] + s[r]) / 2;
  let accepted = 0;
  for (let i = 0; i < n; i++) if (s[i] >= threshold) accepted++;
  return { threshold, tpr, achievedTpr: accepted / n, nHeldout: n };
}

export interface Judgement {
  method: ScorerName;
  score: number;
  threshold: number;
  isOOD: boolean;
}

export interface DetectorJSON {
  format: typeof DETECTOR_JSON_FORMAT;
  method: ScorerName;
  threshold: number;
  tpr: number;
  nHeldout: number;
  /** The quantization scheme whose features the scorer was fitted on (scores are not comparable across schemes). */
  scheme?: string;
  scorer: ScorerJSON;
}

export class OodDetector {
  readonly method: ScorerName;
  readonly threshold: number;
  readonly scorer: Scorer;
  readonly tpr: number;
  readonly nHeldout: number;
  readonly scheme?: string;

  constructor(scorer: Scorer, calibration: Pick<Calibration, 'threshold' | 'tpr' | 'nHeldout'>, scheme?: string) {
    if (!scorer.fitted) throw new VitguardError('E_OOD', `OOD detector: scorer "${scorer.name}" is not fitted`);
    if (!Number.isFinite(calibration.threshold)) throw new VitguardError('E_NONFINITE', `OOD detector: threshold is ${calibration.threshold}`);
    this.scorer = scorer;
    this.method = scorer.name;
    this.threshold = calibration.threshold;
    this.tpr = calibration.tpr;
    this.nHeldout = calibration.nHeldout;
    this.scheme = scheme;
  }

  /** Score one image and compare with the threshold: OOD iff score < threshold. */
  judge(logits: Float32Array, feature?: Float32Array): Judgement {
    const score = this.scorer.score(logits, feature);
    return { method: this.method, score, threshold: this.threshold, isOOD: score < this.threshold };
  }

  /** Throw E_OOD when the detector was fitted on another quantization scheme than the one running. */
  checkScheme(runningScheme: string): void {
    if (this.scheme !== undefined && this.scheme !== runningScheme) {
      throw new VitguardError('E_OOD', `the OOD detector was fitted on scheme "${this.scheme}" but the model runs "${runningScheme}": ` +
        'scores are not comparable across schemes; refit with `vitguard fit-ood` on the quantized model');
    }
  }

  toJSON(): DetectorJSON {
    return {
      format: DETECTOR_JSON_FORMAT,
      method: this.method,
      threshold: this.threshold,
      tpr: this.tpr,
      nHeldout: this.nHeldout,
      ...(this.scheme !== undefined ? { scheme: this.scheme } : {}),
      scorer: this.scorer.toJSON(),
    };
  }
}

/** Calibrate a fitted scorer on held-out ID (logits, feature) pairs. */
export function calibrateDetector(
  scorer: Scorer,
  heldout: { logits: Float32Array[]; features?: Float32Array[] },
  opts: { tpr?: number; scheme?: string } = {},
): OodDetector {
  if (!scorer.fitted) throw new VitguardError('E_OOD', `OOD detector: scorer "${scorer.name}" is not fitted`);
  const n = heldout.logits.length;
  if (heldout.features && heldout.features.length !== n) {
    throw new VitguardError('E_INPUT', `held-out set has ${n} logit vectors but ${heldout.features.length} features`);
  }
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i++) scores[i] = scorer.score(heldout.logits[i], heldout.features?.[i]);
  return new OodDetector(scorer, calibrateThreshold(scores, opts.tpr ?? 0.95), opts.scheme);
}

/** Rebuild a detector from toJSON() output (an object, or the JSON string stored under OOD_META_KEY). */
export function detectorFromJSON(json: DetectorJSON | string): OodDetector {
  const d = parseTaggedJSON(json, DETECTOR_JSON_FORMAT, 'OOD detector');
  if (typeof d.threshold !== 'number') throw new VitguardError('E_OOD', 'OOD detector JSON has no numeric threshold');
  if (!d.scorer) throw new VitguardError('E_OOD', 'OOD detector JSON has no scorer');
  const scorer = scorerFromJSON(d.scorer);
  if (d.method !== scorer.name) throw new VitguardError('E_OOD', `OOD detector JSON says method ${d.method} but its scorer is ${scorer.name}`);
  if (d.scheme !== undefined && typeof d.scheme !== 'string') throw new VitguardError('E_OOD', 'OOD detector JSON scheme must be a string');
  return new OodDetector(scorer, { threshold: d.threshold, tpr: d.tpr ?? 0.95, nHeldout: d.nHeldout ?? 0 }, d.scheme);
}
