// eval's bootstrap intervals: on every row and every mean, paired against fp32, seeded, and in the reports with the
// differences they do not separate marked.
import { describe, expect, it } from 'vitest';
import { runEval, type EvalConfig } from '../../sdk/study/eval.js';
import { diffCi, evalHtml, evalMarkdown, evalText, NOT_SEPARATED, outlierAwareSummary } from '../../sdk/study/report.js';
import { tinyModel } from './helpers.js';

const CFG: EvalConfig = {
  models: [{ name: 'tiny', file: tinyModel(2) }],
  id: 'fashion-mnist:test', ood: ['mnist:test', 'noise:gaussian'], schemes: ['fp32', 'w4a4', 'w4a4-oa'],
  scores: ['msp', 'energy'], fit: 'fashion-mnist:train:24', limit: 30, batch: 8, bootstrap: 300, seed: 4,
};

describe('eval bootstrap intervals', () => {
  it('every row and mean has intervals; fp32 drops are exactly 0; the same seed gives the same intervals', async () => {
    const res = await runEval(CFG);
    expect(res.bootstrap).toMatchObject({ resamples: 300, seed: 4, level: 0.95 });
    for (const r of res.rows) {
      const ci = r.ci!;
      for (const [lo, hi] of [ci.auprOut, ci.auroc]) {
        expect(lo).toBeGreaterThanOrEqual(0);
        expect(hi).toBeLessThanOrEqual(1);
        expect(lo).toBeLessThanOrEqual(hi);
      }
      expect(ci.auprOut[1] - ci.auprOut[0]).toBeGreaterThan(0); // 30 images: the sample moves the metric
      if (r.scheme === 'fp32') expect(ci.auprOutDropAbs).toEqual([0, 0]);
      else expect(ci.auprOutDropAbs![0]).toBeLessThanOrEqual(ci.auprOutDropAbs![1]);
    }
    expect(res.summaryCi).toHaveLength(3 * 2);
    expect(res.oaCi!.map((c) => c.score)).toEqual(['msp', 'energy', 'mean']);
    // the paired drop interval of the mean over sets sits around the point drop's neighbourhood
    for (const c of res.summaryCi!) expect(c.auprOutDropAbs![0]).toBeLessThanOrEqual(c.auprOutDropAbs![1]);
    const again = await runEval({ ...CFG, schemes: ['fp32', 'w4a4'] });
    const pick = (rs: typeof res.rows) => rs.filter((r) => r.scheme !== 'w4a4-oa').map((r) => r.ci);
    expect(pick(again.rows)).toEqual(pick(res.rows)); // same seed, same images: same resamples, whatever the scheme list

    // reports: intervals in brackets, ≈ on differences the intervals do not separate (fp32 vs itself at least)
    const md = evalMarkdown(res);
    expect(md).toMatch(/Intervals: 95 % percentile bootstrap over images.*300 resamples, seed 4/);
    expect(md).toMatch(/\| tiny \| fp32 \| msp \| \d+\.\d\d \[\d+\.\d\d, \d+\.\d\d\] \|/);
    expect(md).toMatch(/\| tiny \| fp32 \| msp \| [^|]+ \| [^|]+ \| \+0\.00 \| \+0\.0 \|/); // the reference: no interval
    expect(diffCi(0.5, [-0.2, 1.2])).toBe(`+0.50 [-0.20, +1.20] ${NOT_SEPARATED}`);
    expect(diffCi(1, [0.2, 1.5])).toBe('+1.00 [+0.20, +1.50]');
    expect(diffCi(-1, [-1.5, -0.1])).toBe('-1.00 [-1.50, -0.10]');
    const oa = outlierAwareSummary(res);
    expect(oa.every((o) => o.gainCi !== null)).toBe(true);
    expect(md).toContain('won back pts');
    expect(evalHtml(res)).toContain('percentile bootstrap');
    expect(evalText(res)).toContain('Intervals:');
  }, 60_000);

  it('several models: each against the first on the same images (drop and gain differences, paired)', async () => {
    const res = await runEval({ ...CFG, models: [{ name: 'a', file: tinyModel(2) }, { name: 'same', file: tinyModel(2) }, { name: 'other', file: tinyModel(3) }] });
    const diffs = res.modelDiffs!;
    // per other model: w4a4 drop, w4a4-oa drop and gain; each for msp, energy and their mean
    expect(diffs).toHaveLength(2 * 3 * 3);
    for (const d of diffs.filter((x) => x.model === 'same')) {
      expect(d.diffPts).toBe(0);
      expect(d.ci).toEqual([0, 0]); // the same model on the same resampled images: no difference at all
    }
    const sum = (model: string, scheme: string) => res.summaryCi!.find((c) => c.model === model && c.scheme === scheme && c.score === 'msp');
    expect(sum('other', 'w4a4')).toBeDefined();
    const drop = (model: string) => {
      const rows = res.rows.filter((r) => r.model === model && r.scheme === 'w4a4' && r.score === 'msp');
      return rows.reduce((x, r) => x + r.auprOutDropAbs!, 0) / rows.length;
    };
    const d = diffs.find((x) => x.model === 'other' && x.kind === 'drop' && x.scheme === 'w4a4' && x.score === 'msp')!;
    expect(d.diffPts).toBeCloseTo(drop('other') - drop('a'), 10);
    expect(d.ci![0]).toBeLessThanOrEqual(d.ci![1]);
    expect(evalMarkdown(res)).toContain('## Against a');
  }, 60_000);

  it('--bootstrap 0: no intervals anywhere', async () => {
    const res = await runEval({ ...CFG, schemes: ['fp32', 'w4a4'], bootstrap: 0 });
    expect(res.bootstrap).toBeNull();
    expect(res.rows.every((r) => r.ci === undefined)).toBe(true);
    expect(evalMarkdown(res)).not.toContain('Intervals:');
  }, 60_000);
});
