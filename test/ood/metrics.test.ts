import { describe, expect, it } from 'vitest';
import { auroc, averagePrecision, auprTrapezoid, fpr95OpenOOD, fprAtTpr, oodMetrics, FPR95_DEFINITION } from '../../sdk/ood/metrics.js';
import { rng, codeOf } from './helpers.js';

// Brute-force references, straight from the definitions (O(n²)), for positives expected to score higher.
function aurocBrute(pos: number[], neg: number[]): number {
  let w = 0;
  for (const p of pos) for (const q of neg) w += p > q ? 1 : p === q ? 0.5 : 0;
  return w / (pos.length * neg.length);
}
function prPointsBrute(pos: number[], neg: number[]): Array<[number, number]> {
  // one (recall, precision) point per distinct threshold t, decreasing t, predicted positive = score ≥ t
  const ts = Array.from(new Set([...pos, ...neg])).sort((a, b) => b - a);
  return ts.map((t) => {
    const tp = pos.filter((s) => s >= t).length;
    const fp = neg.filter((s) => s >= t).length;
    return [tp / pos.length, tp / (tp + fp)];
  });
}
function apBrute(pos: number[], neg: number[]): number {
  let prev = 0, ap = 0;
  for (const [r, p] of prPointsBrute(pos, neg)) { ap += (r - prev) * p; prev = r; }
  return ap;
}
function trapzBrute(pos: number[], neg: number[]): number {
  const pts: Array<[number, number]> = [[0, 1], ...prPointsBrute(pos, neg)];
  let a = 0;
  for (let i = 1; i < pts.length; i++) a += ((pts[i][0] - pts[i - 1][0]) * (pts[i][1] + pts[i - 1][1])) / 2;
  return a;
}

describe('oodMetrics: hand-computed cases', () => {
  it('perfect separation', () => {
    const m = oodMetrics([3, 4, 5], [0, 1, 2]);
    expect(m).toMatchObject({ auroc: 1, auprIn: 1, auprOut: 1, auprInTrapz: 1, auprOutTrapz: 1, fpr95: 0, nId: 3, nOod: 3 });
  });

  it('inverted separation', () => {
    // ID positive, decreasing score: 3(ood) 2(ood) 1(id) 0(id) → AP = ½·⅓ + ½·½ = 5/12.
    const m = oodMetrics([0, 1], [2, 3]);
    expect(m.auroc).toBe(0);
    expect(m.auprIn).toBeCloseTo(5 / 12, 15);
    expect(m.auprOut).toBeCloseTo(5 / 12, 15);
    expect(m.fpr95).toBe(1);
  });

  it('all-equal scores: AUROC 0.5 from the tie rule, AUPR = class prevalence', () => {
    const m = oodMetrics([1, 1, 1], [1, 1]);
    expect(m.auroc).toBe(0.5);
    expect(m.auprIn).toBeCloseTo(3 / 5, 15); // one group: recall 1 at precision 3/5
    expect(m.auprOut).toBeCloseTo(2 / 5, 15);
    expect(m.auprInTrapz).toBeCloseTo((1 + 3 / 5) / 2, 15); // (0,1) → (1, 3/5)
    expect(m.auprOutTrapz).toBeCloseTo((1 + 2 / 5) / 2, 15);
    expect(m.fpr95).toBe(1);
  });

  it('ties across classes: AUROC, step and trapezoid AUPR worked out by hand', () => {
    const id = [2, 1, 1, 0];
    const ood = [1, 0];
    const m = oodMetrics(id, ood);
    // pairs (id, ood): 2 beats both (2); each 1 ties ood 1 and beats ood 0 (2 × 1.5); 0 ties ood 0 (0.5) → 5.5/8
    expect(m.auroc).toBeCloseTo(5.5 / 8, 15);
    // AUPR-in, groups by decreasing score: s=2 (tp1 fp0), s=1 (tp3 fp1), s=0 (tp4 fp2)
    //   points (R, P): (1/4, 1), (3/4, 3/4), (1, 2/3) → AP = 1/4·1 + 1/2·3/4 + 1/4·2/3 = 19/24
    expect(m.auprIn).toBeCloseTo(19 / 24, 15);
    //   trapezoid from (0,1): 1/4·(1+1)/2 + 1/2·(1+3/4)/2 + 1/4·(3/4+2/3)/2 = 83/96
    expect(m.auprInTrapz).toBeCloseTo(83 / 96, 15);
    // AUPR-out (OOD positive, increasing score): s=0 (tp1 fp1), s=1 (tp2 fp3), s=2 (tp2 fp4)
    //   points (1/2, 1/2), (1, 2/5), (1, 1/3) → AP = 1/4 + 1/5 = 9/20; trapezoid 3/8 + 9/40 + 0 = 3/5
    expect(m.auprOut).toBeCloseTo(9 / 20, 15);
    expect(m.auprOutTrapz).toBeCloseTo(3 / 5, 15);
    // OpenOOD FPR: 95% of OOD caught needs t covering s ≤ 1 → ID with s ≤ 1: 3 of 4
    expect(fpr95OpenOOD(id, ood)).toBe(0.75);
  });

  it('unbalanced sets, FPR@95 (classic) with a tie at the threshold', () => {
    const id = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
    const ood = [0.5, 5.5, 6, 50, 200];
    const m = oodMetrics(id, ood);
    // highest t with ≥ 95 ID at s ≥ t is t = 6; OOD with s ≥ 6: 6 (tie), 50, 200
    expect(m.fpr95).toBe(3 / 5);
    // ID above each OOD: 100, 95, 94 + ½, 50 + ½, 0 → 340 / 500
    expect(m.auroc).toBeCloseTo(340 / 500, 15);
    expect(m.nId).toBe(100);
    expect(m.nOod).toBe(5);
    expect(m.fpr95Definition).toBe(FPR95_DEFINITION);
    expect(m.fpr95Definition).toMatch(/95% of ID/);
    expect(fprAtTpr(id, ood, 0.95)).toBe(3 / 5);
  });

  it('AUPR depends on the OOD:ID ratio (prevalence), AUROC does not', () => {
    const id = [1, 2, 3, 4];
    const ood = [0.5, 2.5];
    const ood3 = [...ood, ...ood, ...ood];
    expect(oodMetrics(id, ood3).auroc).toBeCloseTo(oodMetrics(id, ood).auroc, 15);
    expect(oodMetrics(id, ood3).auprOut).toBeGreaterThan(oodMetrics(id, ood).auprOut);
  });
});

describe('oodMetrics: against brute-force definitions', () => {
  it.each([1, 2, 3, 4, 5])('random scores with many ties (seed %i)', (seed) => {
    const r = rng(seed);
    const nId = 5 + Math.floor(r() * 60);
    const nOod = 3 + Math.floor(r() * 90);
    // integer-valued scores in a small range: lots of ties within and across the sets
    const id = Array.from({ length: nId }, () => Math.floor(r() * 12) + 2);
    const ood = Array.from({ length: nOod }, () => Math.floor(r() * 12));
    const m = oodMetrics(id, ood);
    const negId = id.map((s) => -s);
    const negOod = ood.map((s) => -s);
    expect(m.auroc).toBeCloseTo(aurocBrute(id, ood), 12);
    expect(m.auprIn).toBeCloseTo(apBrute(id, ood), 12);
    expect(m.auprOut).toBeCloseTo(apBrute(negOod, negId), 12);
    expect(m.auprInTrapz).toBeCloseTo(trapzBrute(id, ood), 12);
    expect(m.auprOutTrapz).toBeCloseTo(trapzBrute(negOod, negId), 12);
    expect(auroc(id, ood)).toBeCloseTo(m.auroc, 15);
    expect(averagePrecision(id, ood)).toBeCloseTo(m.auprIn, 15);
    expect(auprTrapezoid(negOod, negId)).toBeCloseTo(m.auprOutTrapz, 15);
    // FPR@95 by definition: scan thresholds high to low
    const ts = Array.from(new Set([...id, ...ood])).sort((a, b) => b - a);
    const t = ts.find((x) => id.filter((s) => s >= x).length / nId >= 0.95)!;
    expect(m.fpr95).toBe(ood.filter((s) => s >= t).length / nOod);
    // order does not matter
    const shuffled = oodMetrics([...id].reverse(), [...ood].sort());
    expect(shuffled).toEqual(m);
  });

  it('accepts typed arrays', () => {
    const m = oodMetrics(Float32Array.of(0.9, 0.8, 0.3), Float64Array.of(0.1, 0.35));
    expect(m.auroc).toBeCloseTo(5 / 6, 15);
  });
});

describe('oodMetrics: bad input is an error, never a silent 0.5', () => {
  it('NaN or Inf → E_NONFINITE', () => {
    expect(codeOf(() => oodMetrics([1, NaN], [0]))).toBe('E_NONFINITE');
    expect(codeOf(() => oodMetrics([1], [Infinity]))).toBe('E_NONFINITE');
    expect(codeOf(() => oodMetrics([1], [-Infinity]))).toBe('E_NONFINITE');
  });
  it('empty sets → E_OOD', () => {
    expect(codeOf(() => oodMetrics([], [0]))).toBe('E_OOD');
    expect(codeOf(() => oodMetrics([1], []))).toBe('E_OOD');
    expect(codeOf(() => oodMetrics([], []))).toBe('E_OOD');
  });
  it('a bad TPR target → E_INPUT', () => {
    expect(codeOf(() => fprAtTpr([1], [0], 0))).toBe('E_INPUT');
  });
});
