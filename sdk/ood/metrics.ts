// OOD detection metrics in the OpenOOD convention: every score is "higher = more in-distribution"; OOD is the
// positive class of AUROC and AUPR-out (computed on the negated score), ID the positive class of AUPR-in.
//
// Ties are exact: scores are grouped by value and a threshold never splits a group (as sklearn's roc_curve /
// precision_recall_curve do), so results do not depend on the input order.
//   AUROC    = P(s_id > s_ood) + ½·P(s_id = s_ood)  (Mann–Whitney U / (nId·nOod)); equals the trapezoid ROC area.
//   AUPR     = average precision, the STEP sum Σ_g (R_g − R_{g−1})·P_g over tied-score groups g in order of
//              decreasing positive-class score (sklearn.metrics.average_precision_score).
//   AUPR_trapz = trapezoid area under sklearn's precision_recall_curve, which starts at (recall 0, precision 1)
//              (what OpenOOD reports: metrics.auc(recall, precision)). Both are returned; they differ by O(1/n).
//   FPR@95   = see FPR95_DEFINITION (the classic one, not OpenOOD's; `fpr95OpenOOD` gives OpenOOD's).
// AUPR depends on the OOD:ID ratio: the counts travel with the result.

import { VitguardError } from '../errors.js';

export const FPR95_DEFINITION =
  'FPR@95%TPR(ID): fraction of OOD samples accepted as ID (score >= t) at the highest threshold t that accepts ' +
  '>= 95% of ID samples (classic Hendrycks & Gimpel / ODIN definition; OpenOOD reports the reverse, ' +
  'the fraction of ID flagged at 95% OOD recall)';

export const AUPR_DEFINITION =
  'average precision: step sum over tied-score groups (sklearn average_precision_score); *_Trapz fields are the ' +
  'trapezoid area of sklearn precision_recall_curve incl. its (recall 0, precision 1) end point (OpenOOD)';

export interface OodMetrics {
  /** Area under ROC, OOD positive. 0.5 = chance, 1 = perfect, 0 = inverted. */
  auroc: number;
  /** Average precision with ID as positive (score as is). */
  auprIn: number;
  /** Average precision with OOD as positive (score negated). */
  auprOut: number;
  /** Trapezoid AUPR variants (OpenOOD's numbers). */
  auprInTrapz: number;
  auprOutTrapz: number;
  /** See fpr95Definition. */
  fpr95: number;
  nId: number;
  nOod: number;
  fpr95Definition: string;
  auprDefinition: string;
}

// --- validation and grouping --------------------------------------------------------------------------------------

function checkScores(scores: ArrayLike<number>, what: string): void {
  if (!scores || typeof scores.length !== 'number') throw new VitguardError('E_INPUT', `${what} scores are not an array`);
  if (scores.length === 0) throw new VitguardError('E_OOD', `${what} scores are empty: an OOD metric needs at least one ID and one OOD sample`);
  for (let i = 0; i < scores.length; i++) {
    const v = scores[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new VitguardError('E_NONFINITE', `${what} score [${i}] is ${String(v)}: scores must be finite numbers`);
    }
  }
}

/**
 * Tied-score groups in order of decreasing score of the POSITIVE class: pos[g], neg[g] are the numbers of positive and
 * negative samples whose score equals the g-th largest distinct value.
 */
interface Groups {
  pos: Float64Array;
  neg: Float64Array;
  nPos: number;
  nNeg: number;
}

function groupDescending(posScores: ArrayLike<number>, negScores: ArrayLike<number>, sign: 1 | -1): Groups {
  const nPos = posScores.length;
  const nNeg = negScores.length;
  const n = nPos + nNeg;
  const vals = new Float64Array(n);
  for (let i = 0; i < nPos; i++) vals[i] = sign * posScores[i];
  for (let i = 0; i < nNeg; i++) vals[nPos + i] = sign * negScores[i];
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => vals[b] - vals[a]);
  const pos: number[] = [];
  const neg: number[] = [];
  let i = 0;
  while (i < n) {
    const v = vals[order[i]];
    let p = 0;
    let q = 0;
    while (i < n && vals[order[i]] === v) {
      if (order[i] < nPos) p++;
      else q++;
      i++;
    }
    pos.push(p);
    neg.push(q);
  }
  return { pos: Float64Array.from(pos), neg: Float64Array.from(neg), nPos, nNeg };
}

// --- the metrics on grouped counts ----------------------------------------------------------------------------------

/** P(s_pos > s_neg) + ½ P(tie), groups in decreasing positive-score order. */
function aurocGroups(g: Groups): number {
  let negAbove = 0;
  let wins = 0;
  for (let k = 0; k < g.pos.length; k++) {
    // Positives in group k beat every negative strictly below and tie the negatives of their own group.
    wins += g.pos[k] * (g.nNeg - negAbove - g.neg[k]) + 0.5 * g.pos[k] * g.neg[k];
    negAbove += g.neg[k];
  }
  return wins / (g.nPos * g.nNeg);
}

function averagePrecisionGroups(g: Groups): number {
  let tp = 0;
  let fp = 0;
  let prevRecall = 0;
  let ap = 0;
  for (let k = 0; k < g.pos.length; k++) {
    tp += g.pos[k];
    fp += g.neg[k];
    const recall = tp / g.nPos;
    ap += (recall - prevRecall) * (tp / (tp + fp));
    prevRecall = recall;
  }
  return ap;
}

function trapezoidPrGroups(g: Groups): number {
  let tp = 0;
  let fp = 0;
  let r0 = 0;
  let p0 = 1; // sklearn's appended end point (recall 0, precision 1)
  let area = 0;
  for (let k = 0; k < g.pos.length; k++) {
    tp += g.pos[k];
    fp += g.neg[k];
    const r = tp / g.nPos;
    const p = tp / (tp + fp);
    area += ((r - r0) * (p + p0)) / 2;
    r0 = r;
    p0 = p;
  }
  return area;
}

/** Fraction of negatives with score ≥ t at the highest distinct threshold t where the positives' TPR ≥ tpr. */
function fprAtTprGroups(g: Groups, tpr: number): number {
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < g.pos.length; k++) {
    tp += g.pos[k];
    fp += g.neg[k];
    if (tp / g.nPos >= tpr) return fp / g.nNeg;
  }
  return 1; // unreachable: the last group has tp = nPos
}

// --- public API ---------------------------------------------------------------------------------------------------

/** All metrics for one ID set against one OOD set. Scores: higher = more in-distribution. */
export function oodMetrics(idScores: ArrayLike<number>, oodScores: ArrayLike<number>): OodMetrics {
  checkScores(idScores, 'ID');
  checkScores(oodScores, 'OOD');
  const inGroups = groupDescending(idScores, oodScores, 1); // ID positive, high score first
  const outGroups: Groups = {
    // OOD positive on the negated score: the same groups in reverse order, roles swapped
    pos: inGroups.neg.slice().reverse(),
    neg: inGroups.pos.slice().reverse(),
    nPos: inGroups.nNeg,
    nNeg: inGroups.nPos,
  };
  return {
    auroc: aurocGroups(outGroups),
    auprIn: averagePrecisionGroups(inGroups),
    auprOut: averagePrecisionGroups(outGroups),
    auprInTrapz: trapezoidPrGroups(inGroups),
    auprOutTrapz: trapezoidPrGroups(outGroups),
    fpr95: fprAtTprGroups(inGroups, 0.95),
    nId: idScores.length,
    nOod: oodScores.length,
    fpr95Definition: FPR95_DEFINITION,
    auprDefinition: AUPR_DEFINITION,
  };
}

/** AUROC with `pos` as the class expected to score HIGHER: P(s_pos > s_neg) + ½ P(tie). */
export function auroc(pos: ArrayLike<number>, neg: ArrayLike<number>): number {
  checkScores(pos, 'positive');
  checkScores(neg, 'negative');
  return aurocGroups(groupDescending(pos, neg, 1));
}

/** Average precision (step), `pos` the positive class, higher score = more positive. */
export function averagePrecision(pos: ArrayLike<number>, neg: ArrayLike<number>): number {
  checkScores(pos, 'positive');
  checkScores(neg, 'negative');
  return averagePrecisionGroups(groupDescending(pos, neg, 1));
}

/** Trapezoid area under sklearn's precision–recall curve (with its (0, 1) end point), `pos` scoring higher. */
export function auprTrapezoid(pos: ArrayLike<number>, neg: ArrayLike<number>): number {
  checkScores(pos, 'positive');
  checkScores(neg, 'negative');
  return trapezoidPrGroups(groupDescending(pos, neg, 1));
}

/**
 * Fraction of `neg` with score ≥ t, at the highest threshold t (a distinct score value) where the fraction of `pos`
 * with score ≥ t reaches `tpr` (sklearn: fpr[argmax(tpr_curve >= tpr)]).
 */
export function fprAtTpr(pos: ArrayLike<number>, neg: ArrayLike<number>, tpr = 0.95): number {
  checkScores(pos, 'positive');
  checkScores(neg, 'negative');
  if (!(tpr > 0 && tpr <= 1)) throw new VitguardError('E_INPUT', `fprAtTpr: tpr must be in (0, 1], got ${tpr}`);
  return fprAtTprGroups(groupDescending(pos, neg, 1), tpr);
}

/** OpenOOD's FPR@95: fraction of ID flagged as OOD at the threshold that catches 95 % of OOD. */
export function fpr95OpenOOD(idScores: ArrayLike<number>, oodScores: ArrayLike<number>): number {
  checkScores(idScores, 'ID');
  checkScores(oodScores, 'OOD');
  return fprAtTprGroups(groupDescending(oodScores, idScores, -1), 0.95);
}
