import { describe, expect, it } from 'vitest';
import { loadDetector, mspVerdict, withDetector } from '../../sdk/ood/detector.js';
import { calibrateDetector, OOD_META_KEY } from '../../sdk/ood/threshold.js';
import { createScorer } from '../../sdk/ood/scorers.js';
import { decodeMeta, encodeMeta, type ModelMeta } from '../../sdk/format/model.js';
import { codeOf } from './helpers.js';

const meta = (scheme: string): ModelMeta => ({
  arch: 'test',
  config: { imgSize: 28, patch: 7, inChans: 1, dim: 4, depth: 1, heads: 1, mlpHidden: 8, numClasses: 3, distilled: false, layerScale: false, noEmbedClass: false, eps: 1e-6 },
  labels: ['a', 'b', 'c'],
  preprocessing: { mean: [0.5], std: [0.5], cropPct: 1, interpolation: 'bilinear' },
  scheme: { name: scheme },
  extra: {},
});

describe('detector in model metadata', () => {
  const feats = Array.from({ length: 40 }, (_, i) => Float32Array.of(Math.sin(i), Math.cos(i), i % 3, 1));
  const logits = feats.map((f) => Float32Array.of(f[0], f[1], f[2]));
  const det = calibrateDetector(createScorer('knn', { k: 2 }).fit({ features: feats.slice(0, 30) }), { logits: logits.slice(30), features: feats.slice(30) });

  it('a model without a detector: null, and MSP with no threshold', () => {
    expect(loadDetector(meta('fp32'))).toBeNull();
    expect(mspVerdict(Float32Array.of(0, 0))).toEqual({ method: 'msp', score: 0.5, threshold: null, isOOD: null });
    expect(codeOf(() => mspVerdict(Float32Array.of(0, NaN)))).toBe('E_NONFINITE');
  });

  it('withDetector → encodeMeta → decodeMeta → loadDetector judges the same; scheme stamped and checked', () => {
    const m = withDetector(meta('w8a8'), det);
    const round = decodeMeta(encodeMeta(m));
    expect(typeof round.extra[OOD_META_KEY]).toBe('string');
    const back = loadDetector(round)!;
    expect(back.scheme).toBe('w8a8');
    for (let i = 30; i < 40; i++) expect(back.judge(logits[i], feats[i])).toEqual(det.judge(logits[i], feats[i]));
    // the same statistics on a model running another scheme → a clear error
    const other = { ...round, scheme: { name: 'w4a4' } };
    expect(codeOf(() => loadDetector(other))).toBe('E_OOD');
    expect(codeOf(() => withDetector(meta('fp32'), back))).toBe('E_OOD');
  });

  it('malformed stored statistics → E_OOD naming the metadata key', () => {
    const bad = { ...meta('fp32'), extra: { [OOD_META_KEY]: '{"format":"vitguard-ood/1"' } };
    expect(() => loadDetector(bad)).toThrow(/model metadata "ood"/);
    expect(codeOf(() => loadDetector(bad))).toBe('E_OOD');
  });
});
