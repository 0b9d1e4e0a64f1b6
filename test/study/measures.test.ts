import { describe, expect, it } from 'vitest';
import { absActStats, imageSummary, layerStats, median, ranks, sinkShare, spearman, tokenNormStats } from '../../sdk/study/inspect.js';
import { Engine } from '../../sdk/engine/index.js';
import { numTokens } from '../../sdk/format/model.js';
import { VitguardError } from '../../sdk/errors.js';
import { tinyModel, TINY_FMNIST } from './helpers.js';

describe('inspect measures on constructed inputs', () => {
  it('token norms: max, median, fraction above 5× median', () => {
    const s = tokenNormStats([1, 2, 1, 2, 30, 1.5, 11, 2]); // sorted 1,1,1.5,2,2,2,11,30 → median 2
    expect(s.normMedian).toBe(2);
    expect(s.normMax).toBe(30);
    expect(s.outlierFrac).toBe(2 / 8); // 30 and 11 exceed 10
    expect(tokenNormStats([3, 3, 3]).outlierFrac).toBe(0);
  });

  it('|activation|: max and median of absolute values', () => {
    const s = absActStats(new Float32Array([-100, 1, -2, 3, 0.5]));
    expect(s.actMax).toBe(100);
    expect(s.actMedian).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('attention-sink share: a key taking all mass → 1; uniform attention → 1/T', () => {
    const H = 2, T = 4;
    const sink = new Float32Array(H * T * T);
    for (let h = 0; h < H; h++) for (let i = 0; i < T; i++) sink[h * T * T + i * T + (h === 0 ? 0 : 2)] = 1;
    const s = sinkShare(sink, H, T);
    expect(s.sinkShare).toBe(1);
    expect(s.topKeys).toEqual([0, 2]);
    expect(s.sinkIsCls).toBe(0.5);
    const u = sinkShare(new Float32Array(H * T * T).fill(1 / T), H, T);
    expect(u.sinkShare).toBeCloseTo(1 / T, 7);
    // half the queries put 0.7 on key 3, the rest spread evenly: key 3 receives (2·0.7 + 2·0.25)/4
    const mixed = new Float32Array(T * T).fill(0.25);
    for (const i of [0, 1]) { mixed.fill(0.1, i * T, i * T + T); mixed[i * T + 3] = 0.7; }
    expect(sinkShare(mixed, 1, T).sinkShare).toBeCloseTo((2 * 0.7 + 2 * 0.25) / 4, 6);
    expect(() => sinkShare(new Float32Array(5), 1, T)).toThrow(VitguardError);
  });

  it('Spearman: monotone = 1, reversed = −1, ties get average ranks, constants give null, NaN is an error', () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 1000])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
    expect(Array.from(ranks([5, 1, 5, 2]))).toEqual([3.5, 1, 3.5, 2]);
    // hand computed: ranks a = 1,2,3,4,5; ranks b = 2,1,4,3,5 → Σd² = 4 → ρ = 1 − 6·4/(5·24) = 0.8
    expect(spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])).toBeCloseTo(0.8, 12);
    expect(spearman([1, 1, 1], [1, 2, 3])).toBeNull();
    expect(() => spearman([1, NaN, 3], [1, 2, 3])).toThrow(/spearman: first series \[1\] is NaN/);
  });

  it('engine hidden states agree with its token norms; per-image summary is consistent', async () => {
    const file = tinyModel(3);
    const engine = await Engine.create(file, { maxBatch: 2 });
    const img = new Float32Array(28 * 28).map((_, i) => Math.sin(i * 0.37));
    const r = engine.forward(img, { attention: true, tokenNorms: true, hidden: true });
    const T = numTokens(TINY_FMNIST), D = TINY_FMNIST.dim;
    expect(r.hidden).toHaveLength(TINY_FMNIST.depth);
    for (let l = 0; l < TINY_FMNIST.depth; l++) {
      expect(r.hidden![l]).toHaveLength(T * D);
      for (let t = 0; t < T; t++) {
        let ss = 0;
        for (let d = 0; d < D; d++) ss += r.hidden![l][t * D + d] ** 2;
        expect(Math.sqrt(ss)).toBeCloseTo(r.tokenNorms![l][t], 3);
      }
    }
    const st = layerStats(r, TINY_FMNIST);
    expect(st).toHaveLength(TINY_FMNIST.depth);
    for (const s of st) {
      expect(s.normMax).toBeGreaterThanOrEqual(s.normMedian);
      expect(s.actMax).toBeGreaterThanOrEqual(s.actMedian);
      expect(s.sinkShare).toBeGreaterThanOrEqual(1 / T - 1e-6);
      expect(s.sinkShare).toBeLessThanOrEqual(1 + 1e-6);
    }
    const sum = imageSummary(st);
    expect(sum.normRatio).toBeCloseTo(Math.max(...st.map((s) => s.normMax / s.normMedian)), 10);
    expect(() => layerStats({ logits: r.logits, feature: r.feature }, TINY_FMNIST)).toThrow(/attention, tokenNorms and hidden/);
    engine.dispose();
  });
});
