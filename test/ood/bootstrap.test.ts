import { describe, expect, it } from 'vitest';
import { bootstrapOodMetrics, oodMetrics, percentileInterval, rankScores, resampleWeights, separates } from '../../sdk/ood/index.js';
import { gaussian, mulberry32 } from '../../sdk/data/random.js';

/** The scores of resample b written out (each image as often as it was drawn). */
function expand(scores: ArrayLike<number>, w: Uint16Array, n: number, b: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) for (let k = 0; k < w[b * n + i]; k++) out.push(scores[i]);
  return out;
}

function normals(n: number, mean: number, seed: number, round = 0): number[] {
  const g = gaussian(mulberry32(seed));
  return Array.from({ length: n }, () => {
    const v = mean + g();
    return round ? Math.round(v * round) / round : v;
  });
}

describe('bootstrap intervals', () => {
  it('resample weights: n draws per resample, seeded, independent streams', () => {
    const a = resampleWeights(50, 20, 7), b = resampleWeights(50, 20, 7), c = resampleWeights(50, 20, 7, 1);
    expect(a.w).toEqual(b.w);
    expect(a.w).not.toEqual(c.w);
    for (let r = 0; r < 20; r++) expect(a.w.subarray(r * 50, (r + 1) * 50).reduce((s, x) => s + x, 0)).toBe(50);
    expect(() => resampleWeights(0, 10, 1)).toThrow(expect.objectContaining({ code: 'E_INPUT' }));
  });

  it('each resample\'s AUROC and AUPR-out equal oodMetrics on the resampled scores written out, ties included', () => {
    for (const round of [0, 4]) { // round = 4: heavy ties (scores on a 0.25 grid)
      const id = normals(40, 1, 1, round), ood = normals(25, 0, 2, round);
      const wi = resampleWeights(id.length, 30, 3), wo = resampleWeights(ood.length, 30, 3, 1);
      const r = bootstrapOodMetrics(rankScores(id, ood), wi, wo);
      for (let b = 0; b < 30; b++) {
        const m = oodMetrics(expand(id, wi.w, id.length, b), expand(ood, wo.w, ood.length, b));
        expect(r.auroc[b]).toBeCloseTo(m.auroc, 12);
        expect(r.auprOut[b]).toBeCloseTo(m.auprOut, 12);
      }
    }
  });

  it('percentile interval: linear interpolation between order statistics', () => {
    const v = Array.from({ length: 101 }, (_, i) => 100 - i); // any order
    const [lo, hi] = percentileInterval(v);
    expect(lo).toBeCloseTo(2.5, 12);
    expect(hi).toBeCloseTo(97.5, 12);
    expect(percentileInterval([5, 5, 5])).toEqual([5, 5]);
    expect(separates([0.1, 0.4])).toBe(true);
    expect(separates([-0.1, 0.4])).toBe(false);
    expect(separates(null)).toBe(false);
  });

  it('covers the true AUROC about 95 % of the time (200 + 200 normal scores, shift 1: AUROC Φ(1/√2) = 0.7602)', () => {
    const truth = 0.760249;
    let covered = 0;
    const trials = 40;
    for (let t = 0; t < trials; t++) {
      const id = normals(200, 1, 100 + t), ood = normals(200, 0, 500 + t);
      const r = bootstrapOodMetrics(rankScores(id, ood), resampleWeights(200, 400, t), resampleWeights(200, 400, t, 1));
      const [lo, hi] = percentileInterval(r.auroc);
      if (lo <= truth && truth <= hi) covered++;
      expect(hi - lo).toBeGreaterThan(0.04); // ≈ 2·1.96·0.024 for this n
      expect(hi - lo).toBeLessThan(0.13);
    }
    expect(covered / trials).toBeGreaterThanOrEqual(0.85);
  });

  it('paired: the interval of a difference on the same images is much narrower than the two intervals suggest', () => {
    const id = normals(300, 1.5, 11), ood = normals(300, 0, 12);
    // a "quantized" scorer: the same scores with small per-image noise
    const g = gaussian(mulberry32(13));
    const idQ = id.map((x) => x + 0.2 * g()), oodQ = ood.map((x) => x + 0.2 * g());
    const wi = resampleWeights(300, 1000, 5), wo = resampleWeights(300, 1000, 5, 1);
    const a = bootstrapOodMetrics(rankScores(id, ood), wi, wo).auprOut;
    const b = bootstrapOodMetrics(rankScores(idQ, oodQ), wi, wo).auprOut;
    const diff = a.map((x, i) => x - b[i]);
    const [dlo, dhi] = percentileInterval(diff);
    const [alo, ahi] = percentileInterval(a);
    expect(dhi - dlo).toBeLessThan((ahi - alo) / 2);
    const point = oodMetrics(id, ood).auprOut - oodMetrics(idQ, oodQ).auprOut;
    expect(dlo).toBeLessThanOrEqual(point);
    expect(dhi).toBeGreaterThanOrEqual(point);
  });
});
