import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addDrops, fitScorers, runEval, scoreFeatureSets, summarize, type EvalRow } from '../../sdk/study/eval.js';
import { limitSpec, type FeatureSet } from '../../sdk/study/features.js';
import { evalHtml, evalMarkdown } from '../../sdk/study/report.js';
import { oodMetrics, scoreAll, createScorer } from '../../sdk/ood/index.js';
import { VitguardError } from '../../sdk/errors.js';
import { tinyModel } from './helpers.js';

const ROW_KEYS = ['accuracy', 'arch', 'auprIn', 'auprOut', 'auprOutDropAbs', 'auprOutDropRel', 'auroc', 'ci', 'fpr95', 'model', 'nFit', 'nId', 'nOod', 'ood', 'scheme', 'score'];

describe('eval on a tiny random model with tiny sets', () => {
  it('one row per model × scheme × score × OOD set, with the documented shape and drops vs fp32', async () => {
    const res = await runEval({
      models: [{ name: 'tiny', file: tinyModel(1) }],
      id: 'fashion-mnist:test', ood: ['mnist:test', 'noise:gaussian'], schemes: ['fp32', 'w8a8', 'w4a4'],
      scores: ['msp', 'energy', 'mahalanobis', 'knn', 'vim'], fit: 'fashion-mnist:train:40', limit: 20, batch: 8, scorerOptions: { knn: { k: 5 } },
    });
    expect(res.format).toBe('vitguard-eval/1');
    expect(res.setup.specs).toEqual({ id: 'fashion-mnist:test:20', ood: ['mnist:test:20', 'noise:gaussian:20'], fit: 'fashion-mnist:train:40' });
    expect(res.rows).toHaveLength(1 * 3 * 5 * 2);
    expect(res.models.map((m) => m.scheme)).toEqual(['fp32', 'w8a8', 'w4a4']);
    const json = JSON.parse(JSON.stringify(res)) as { rows: EvalRow[] };
    for (const r of json.rows) {
      expect(Object.keys(r).sort()).toEqual(ROW_KEYS);
      for (const k of ['accuracy', 'auroc', 'auprIn', 'auprOut', 'fpr95'] as const) {
        expect(r[k]).toBeGreaterThanOrEqual(0);
        expect(r[k]).toBeLessThanOrEqual(1);
      }
      expect([r.nId, r.nOod, r.nFit]).toEqual([20, 20, 40]);
      const f = json.rows.find((x) => x.scheme === 'fp32' && x.score === r.score && x.ood === r.ood)!;
      expect(r.auprOutDropAbs).toBeCloseTo(100 * (f.auprOut - r.auprOut), 10);
      if (r.scheme === 'fp32') expect(r.auprOutDropAbs).toBe(0);
    }
    // weight sizes shrink with bits; the per-model accuracy is the rows' accuracy
    const bytes = Object.fromEntries(res.models.map((m) => [m.scheme, m.weightBytes]));
    expect(bytes.w8a8).toBeLessThan(bytes.fp32);
    for (const r of res.rows) expect(r.accuracy).toBe(res.models.find((m) => m.scheme === r.scheme)!.accuracy);
    // reports render every row
    const md = evalMarkdown(res, { command: 'npm run results' });
    expect(md).toContain('npm run results');
    expect(md.split('\n').filter((l) => l.startsWith('| tiny |')).length).toBe(3 + 3 * 5 + 30);
    const html = evalHtml(res);
    expect(html.match(/<svg /g)!.length).toBe(2);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
  }, 60_000);

  it('limitSpec keeps an explicit :N and appends the limit otherwise', () => {
    expect(limitSpec('mnist:test', 50)).toBe('mnist:test:50');
    expect(limitSpec('mnist:test:10', 50)).toBe('mnist:test:10');
    expect(limitSpec('noise:gaussian:28x28', 5)).toBe('noise:gaussian:28x28:5');
    expect(limitSpec('mnist:test')).toBe('mnist:test');
  });
});

function set(spec: string, logits: number[][], features?: number[][]): FeatureSet {
  return {
    spec, n: logits.length, msPerImage: 0, labels: new Int32Array(logits.length),
    logits: logits.map((z) => Float32Array.from(z)), features: (features ?? logits).map((f) => Float32Array.from(f)),
  };
}

describe('scoring precomputed features', () => {
  it('matches oodMetrics on the scores computed directly', () => {
    const id = set('id', [[5, 0], [4, 1], [3, 0], [6, -1]]);
    const ood = set('ood', [[1, 1], [0.5, 0], [2, 1.8]]);
    const got = scoreFeatureSets(fitScorers(['msp', 'maxlogit'], null, null), id, [ood]);
    expect(got.map((g) => g.score)).toEqual(['msp', 'maxlogit']);
    for (const g of got) {
      const s = createScorer(g.score);
      expect(g.metrics).toEqual(oodMetrics(scoreAll(s, id.logits), scoreAll(s, ood.logits)));
    }
    expect(got[1].metrics.auroc).toBe(1); // max logit 3..6 vs 1, 0.5, 2: perfect separation
  });

  it('a NaN logit is a clear error naming the set and image, never a silent 0.5', () => {
    const id = set('fashion-mnist:test:4', [[1, 0], [NaN, 0]]);
    const ood = set('mnist:test:2', [[0, 0], [0, 1]]);
    expect(() => scoreFeatureSets(fitScorers(['energy'], null, null), id, [ood])).toThrow(/scoring image 1 of "fashion-mnist:test:4" with energy: .*NaN/);
    try {
      scoreFeatureSets(fitScorers(['energy'], null, null), id, [ood]);
    } catch (e) {
      expect((e as VitguardError).code).toBe('E_NONFINITE');
    }
  });

  it('a score that needs fitting, unfitted, is a usage error naming --fit', async () => {
    expect(() => fitScorers(['knn'], null, null)).toThrow(/"knn" needs fitting .*--fit/);
    await expect(runEval({ models: [{ name: 't', file: tinyModel() }], id: 'fashion-mnist:test', ood: ['mnist:test'], schemes: ['fp32'], scores: ['mahalanobis'], limit: 5 }))
      .rejects.toThrow(/mahalanobis need\(s\) ID training images: pass --fit/);
  });

  it('bad input: an OOD set with no images, an unknown scheme or score', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vg-empty-'));
    mkdirSync(join(dir, 'cls'));
    const base = { models: [{ name: 't', file: tinyModel() }], id: 'fashion-mnist:test', schemes: ['fp32'], scores: ['msp' as const], limit: 5 };
    await expect(runEval({ ...base, ood: [`folder:${dir}`] })).rejects.toMatchObject({ code: 'E_DATA', message: expect.stringMatching(/no images/) });
    await expect(runEval({ ...base, ood: ['mnist:test'], schemes: ['w3a3'] })).rejects.toThrow(/unknown scheme "w3a3"/);
    await expect(runEval({ ...base, ood: ['mnist:test'], scores: ['mps' as never] })).rejects.toThrow(/unknown score "mps"/);
  });

  it('addDrops and summarize: drops against the same model, score and set; means over OOD sets', () => {
    const row = (scheme: string, ood: string, auprOut: number): EvalRow => ({
      model: 'm', arch: 'a', scheme, score: 'msp', ood, accuracy: 0.9, auroc: 0.8, auprIn: 0.8, auprOut, fpr95: 0.5,
      auprOutDropAbs: null, auprOutDropRel: null, nId: 10, nOod: 10, nFit: 0,
    });
    const rows = addDrops([row('fp32', 'a', 0.8), row('fp32', 'b', 0.6), row('w4a4', 'a', 0.6), row('w4a4', 'b', 0.3)]);
    expect(rows[2].auprOutDropAbs).toBeCloseTo(20, 10);
    expect(rows[2].auprOutDropRel).toBeCloseTo(25, 10);
    expect(rows[3].auprOutDropRel).toBeCloseTo(50, 10);
    const s = summarize(rows).find((x) => x.scheme === 'w4a4')!;
    expect(s.auprOut).toBeCloseTo(0.45, 12);
    expect(s.auprOutDropAbs).toBeCloseTo(25, 10);
    expect(s.auprOutDropRel).toBeCloseTo(37.5, 10);
    expect(addDrops([row('w4a4', 'a', 0.5)])[0].auprOutDropAbs).toBeNull(); // no fp32 row
  });
});
