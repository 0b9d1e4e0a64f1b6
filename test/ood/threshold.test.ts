import { describe, expect, it } from 'vitest';
import { calibrateDetector, calibrateThreshold, detectorFromJSON, OOD_META_KEY, OodDetector } from '../../sdk/ood/threshold.js';
import { createScorer } from '../../sdk/ood/scorers.js';
import { rng, codeOf } from './helpers.js';

function shuffled(n: number, seed: number): number[] {
  const r = rng(seed);
  const a = Array.from({ length: n }, (_, i) => i + 1);
  for (let i = n - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [a[i], a[j]] = [a[j], a[i]]; }
  return a;
}
const accepted = (s: number[], t: number) => s.filter((v) => v >= t).length;

describe('calibrateThreshold (95 % ID TPR)', () => {
  it('n = 100 distinct scores: midpoint of the 5th and 6th smallest, exactly 95 above', () => {
    const s = shuffled(100, 1); // 1..100
    const c = calibrateThreshold(s);
    expect(c.threshold).toBe(5.5);
    expect(accepted(s, c.threshold)).toBe(95);
    expect(c.achievedTpr).toBe(0.95);
    expect(c.nHeldout).toBe(100);
  });
  it.each([[20, 1, 19], [1000, 50, 950], [30, 1, 29], [10, 0, 10], [1, 0, 1]])('n = %i: %i rejected, %i accepted', (n, rejected, acc) => {
    const s = shuffled(n, n).map((v) => v * 0.37 - 4);
    const c = calibrateThreshold(s);
    expect(accepted(s, c.threshold)).toBe(acc);
    expect(n - acc).toBe(rejected);
    expect(c.achievedTpr).toBeGreaterThanOrEqual(0.95);
    if (rejected === 0) expect(c.threshold).toBe(Math.min(...s));
  });
  it('other TPR targets', () => {
    const s = shuffled(200, 7);
    expect(accepted(s, calibrateThreshold(s, 0.9).threshold)).toBe(180);
    expect(accepted(s, calibrateThreshold(s, 0.5).threshold)).toBe(100);
    expect(accepted(s, calibrateThreshold(s, 1).threshold)).toBe(200);
  });
  it('ties at the boundary are accepted together', () => {
    const s = [...Array(10).fill(1), ...Array(90).fill(2)]; // 5th and 6th smallest are both 1
    const c = calibrateThreshold(s);
    expect(c.threshold).toBe(1);
    expect(c.achievedTpr).toBe(1);
    expect(calibrateThreshold(Array(40).fill(3)).threshold).toBe(3);
  });
  it('bad input', () => {
    expect(codeOf(() => calibrateThreshold([]))).toBe('E_OOD');
    expect(codeOf(() => calibrateThreshold([1, NaN, 2]))).toBe('E_NONFINITE');
    expect(codeOf(() => calibrateThreshold([1, 2], 0))).toBe('E_OOD');
  });
});

describe('OodDetector', () => {
  const r = rng(9);
  const D = 6;
  const feats = Array.from({ length: 200 }, () => Float32Array.from({ length: D }, () => r() * 2 - 1 + 3));
  const logits = feats.map((f) => Float32Array.of(f[0], f[1], f[2]));

  it('judge: isOOD iff score < threshold; MSP on held-out logits', () => {
    const det = calibrateDetector(createScorer('maxlogit'), { logits });
    expect(det.method).toBe('maxlogit');
    const scores = logits.map((z) => Math.max(...z));
    expect(accepted(scores, det.threshold)).toBe(190);
    const low = det.judge(Float32Array.of(det.threshold - 1e-3, -5, -5));
    expect(low).toEqual({ method: 'maxlogit', score: Math.fround(det.threshold - 1e-3), threshold: det.threshold, isOOD: true });
    expect(det.judge(Float32Array.of(det.threshold + 1e-4, 0, 0)).isOOD).toBe(false);
    expect(logits.filter((z) => !det.judge(z).isOOD).length).toBe(190);
  });

  it('JSON round trip (as stored in the model metadata) gives the same judgements; scheme is checked', () => {
    const knn = createScorer('knn', { k: 3 }).fit({ features: feats.slice(0, 150) });
    const det = calibrateDetector(knn, { logits: logits.slice(150), features: feats.slice(150) }, { scheme: 'w4a8' });
    const metadata = { [OOD_META_KEY]: JSON.stringify(det.toJSON()) };
    const back = detectorFromJSON(metadata[OOD_META_KEY]);
    expect(back).toBeInstanceOf(OodDetector);
    expect(back.threshold).toBe(det.threshold);
    expect(back.scheme).toBe('w4a8');
    const probe = Float32Array.from({ length: D }, (_, i) => (i % 2 ? -1 : 1));
    expect(back.judge(logits[0], probe)).toEqual(det.judge(logits[0], probe));
    expect(back.judge(logits[0], probe).isOOD).toBe(true);
    for (let i = 150; i < 200; i++) expect(back.judge(logits[i], feats[i])).toEqual(det.judge(logits[i], feats[i]));
    expect(codeOf(() => back.checkScheme('w4a8'))).toBeUndefined();
    expect(codeOf(() => back.checkScheme('fp32'))).toBe('E_OOD');
  });

  it('unfitted scorers and bad JSON → E_OOD', () => {
    expect(codeOf(() => calibrateDetector(createScorer('knn'), { logits, features: feats }))).toBe('E_OOD');
    expect(codeOf(() => new OodDetector(createScorer('vim'), { threshold: 0, tpr: 0.95, nHeldout: 1 }))).toBe('E_OOD');
    expect(codeOf(() => calibrateDetector(createScorer('msp'), { logits: [] }))).toBe('E_OOD');
    expect(codeOf(() => detectorFromJSON('{"format":"vitguard-ood/1","method":"msp"}'))).toBe('E_OOD');
    const good = calibrateDetector(createScorer('msp'), { logits }).toJSON();
    expect(codeOf(() => detectorFromJSON({ ...good, method: 'energy' }))).toBe('E_OOD');
    expect(codeOf(() => detectorFromJSON(JSON.stringify(good)))).toBeUndefined();
  });
});
