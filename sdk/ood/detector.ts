// The detector as the classifier and CLI see it: load it from (or store it into) a model's metadata, and the
// verdict returned with every prediction. An unfitted model still reports its MSP score, with no threshold.

import { VitguardError } from '../errors.js';
import type { ModelMeta } from '../format/model.js';
import { createScorer } from './scorers.js';
import { detectorFromJSON, OOD_META_KEY, OodDetector } from './threshold.js';

export interface OodVerdict {
  method: string;
  /** Higher = more in-distribution. */
  score: number;
  /** null when the model carries no calibrated detector (run `vitguard fit-ood`). */
  threshold: number | null;
  /** score < threshold; null without a threshold. */
  isOOD: boolean | null;
}

export type Detector = OodDetector;

const msp = createScorer('msp');

/** The MSP score of uncalibrated models: a score, but no threshold and no verdict. */
export function mspVerdict(logits: Float32Array): OodVerdict {
  return { method: 'msp', score: msp.score(logits), threshold: null, isOOD: null };
}

/**
 * The detector stored in a model's metadata (key OOD_META_KEY), or null when there is none. Throws E_OOD when it was
 * fitted on another quantization scheme than the model's, or when the stored statistics are malformed.
 */
export function loadDetector(meta: ModelMeta): OodDetector | null {
  const text = meta.extra[OOD_META_KEY];
  if (text === undefined) return null;
  let det: OodDetector;
  try {
    det = detectorFromJSON(text);
  } catch (e) {
    const code = e instanceof VitguardError ? e.code : 'E_OOD';
    throw new VitguardError(code, `model metadata "${OOD_META_KEY}": ${(e as Error).message}`, { cause: e });
  }
  det.checkScheme(meta.scheme.name);
  return det;
}

/**
 * A copy of `meta` that carries `detector` (what `vitguard fit-ood` writes back with the tensors). A detector without
 * a scheme is stamped with the model's; one fitted on another scheme is refused (E_OOD).
 */
export function withDetector(meta: ModelMeta, detector: OodDetector): ModelMeta {
  detector.checkScheme(meta.scheme.name);
  if (detector.scheme === undefined) detector = new OodDetector(detector.scorer, detector, meta.scheme.name);
  return { ...meta, extra: { ...meta.extra, [OOD_META_KEY]: JSON.stringify(detector.toJSON()) } };
}
