// The :N class-balanced sampler, spec parsing and the noise sets.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { classBalancedIndices, classQuotas, loadSamples, openDataset, parseSpec } from '../../sdk/data/index.js';
import { noiseImage } from '../../sdk/data/noise.js';

const FIXTURE_FMNIST = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/data/fashion-mnist');
const countsOf = (t: ArrayLike<number>, k = 10) => {
  const c = new Array(k).fill(0);
  for (let i = 0; i < t.length; i++) c[t[i]]++;
  return c;
};

describe('classQuotas', () => {
  test('equal shares, remainder to the smallest labels', () => {
    expect(classQuotas([100, 100, 100, 100], 8)).toEqual([2, 2, 2, 2]);
    expect(classQuotas([100, 100, 100, 100], 10)).toEqual([3, 3, 2, 2]);
    expect(classQuotas([100, 100, 100], 1)).toEqual([1, 0, 0]);
  });
  test('a short class gives all it has; its shortfall goes to the others', () => {
    expect(classQuotas([1, 100, 100], 9)).toEqual([1, 4, 4]);
    expect(classQuotas([1, 2, 100], 9)).toEqual([1, 2, 6]);
    expect(classQuotas([3, 3, 3], 9)).toEqual([3, 3, 3]);
    expect(classQuotas([2, 5, 5], 10)).toEqual([2, 4, 4]);
  });
});

describe('classBalancedIndices', () => {
  // 1000 items, 10 classes, imbalanced and interleaved: item i has class (i*7 mod 13) mod 10.
  const targets = Int32Array.from({ length: 1000 }, (_, i) => ((i * 7) % 13) % 10);

  test('balanced, exact size, unique, ascending', () => {
    const idx = classBalancedIndices(targets, 100, 1);
    expect(idx.length).toBe(100);
    expect(new Set(idx).size).toBe(100);
    expect(idx).toEqual([...idx].sort((a, b) => a - b));
    expect(countsOf(idx.map((i) => targets[i]))).toEqual(new Array(10).fill(10));
    const r = classBalancedIndices(targets, 25, 1);
    expect(countsOf(r.map((i) => targets[i]))).toEqual([3, 3, 3, 3, 3, 2, 2, 2, 2, 2]);
  });

  test('deterministic for a seed; different seeds differ', () => {
    const a = classBalancedIndices(targets, 50, 7);
    expect(classBalancedIndices(targets, 50, 7)).toEqual(a);
    const b = classBalancedIndices(targets, 50, 8);
    expect(b).not.toEqual(a);
    expect(countsOf(b.map((i) => targets[i]))).toEqual(countsOf(a.map((i) => targets[i])));
    // most picks differ between seeds (each class has ~77–154 items and 5 picks)
    expect(a.filter((i) => b.includes(i)).length).toBeLessThan(20);
  });

  test('the whole set, and more than the set', () => {
    expect(classBalancedIndices(targets, 1000, 3)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(() => classBalancedIndices(targets, 1001)).toThrow(/sample of 1001 but the set holds only 1000/);
    expect(() => classBalancedIndices(targets, 0)).toThrow(/positive integer/);
  });
});

describe(':N specs', () => {
  test('fashion-mnist:test:50 is 5 per class, labels consistent', async () => {
    const ds = await openDataset('fashion-mnist:test:50', { fashionMnistDir: FIXTURE_FMNIST, seed: 3 });
    expect([ds.spec, ds.name, ds.size]).toEqual(['fashion-mnist:test:50', 'fashion-mnist:test', 50]);
    expect(countsOf(ds.targets)).toEqual(new Array(10).fill(5));
    const samples = await loadSamples('fashion-mnist:test:50', { fashionMnistDir: FIXTURE_FMNIST, seed: 3 });
    expect(samples.map((s) => s.label)).toEqual(Array.from(ds.targets));
    // each sample is the item its source names, in ascending order
    const items = samples.map((s) => Number(s.source!.split('#')[1]));
    expect(items).toEqual([...items].sort((a, b) => a - b));
    const full = await openDataset('fashion-mnist:test', { fashionMnistDir: FIXTURE_FMNIST });
    expect(Array.from((await full.at(items[17])).pixels)).toEqual(Array.from(samples[17].pixels));
  });

  test('classes with fewer images than their quota (fixture counts 20,27,27,17,21,16,16,20,18,18)', async () => {
    const full = await openDataset('fashion-mnist:test', { fashionMnistDir: FIXTURE_FMNIST });
    expect(countsOf(full.targets)).toEqual([20, 27, 27, 17, 21, 16, 16, 20, 18, 18]);
    // 190 → 19 each; classes 3,5,6,8,9 fall short by 10 → 2 each to the five with spare (0 and 7 can take only 1)
    // → 2 left → one each to classes 1 and 2.
    const ds = await openDataset('fashion-mnist:test:190', { fashionMnistDir: FIXTURE_FMNIST });
    expect(countsOf(ds.targets)).toEqual([20, 22, 22, 17, 21, 16, 16, 20, 18, 18]);
  });

  test('seed changes the sample, not the balance', async () => {
    const a = await openDataset('mnist:test:30', { seed: 1 });
    const b = await openDataset('mnist:test:30', { seed: 2 });
    const srcA = (await loadSamples('mnist:test:30', { seed: 1 })).map((s) => s.source);
    const srcB = (await loadSamples('mnist:test:30', { seed: 2 })).map((s) => s.source);
    expect(srcA).not.toEqual(srcB);
    expect(countsOf(a.targets)).toEqual(countsOf(b.targets));
    await expect(openDataset('fashion-mnist:test:201', { fashionMnistDir: FIXTURE_FMNIST })).rejects.toMatchObject({ code: 'E_DATA' });
  });
});

describe('parseSpec', () => {
  test('forms', () => {
    expect(parseSpec('mnist:train')).toEqual({ kind: 'mnist', split: 'train' });
    expect(parseSpec('fashion-mnist:test:100')).toEqual({ kind: 'fashion-mnist', split: 'test', n: 100 });
    expect(parseSpec('folder:/a:b/c:12')).toEqual({ kind: 'folder', path: '/a:b/c', n: 12 });
    expect(parseSpec('folder:C:\\imgs')).toEqual({ kind: 'folder', path: 'C:\\imgs' });
    expect(parseSpec('noise:uniform:32x32x3:5')).toEqual({ kind: 'noise', dist: 'uniform', size: { width: 32, height: 32, channels: 3 }, n: 5 });
    expect(parseSpec('noise:gaussian:16x8')).toEqual({ kind: 'noise', dist: 'gaussian', size: { width: 16, height: 8, channels: 1 } });
    expect(() => parseSpec('mnist:test:0')).toThrow(/positive integer/);
  });
});

describe('noise', () => {
  test('default size and count, label −1, seeded', async () => {
    const ds = await openDataset('noise:gaussian');
    expect([ds.size, ds.width, ds.height, ds.channels, ds.labels]).toEqual([1000, 28, 28, 1, undefined]);
    const s = await ds.at(3);
    expect([s.label, s.pixels.length, s.source]).toEqual([-1, 784, 'noise:gaussian#3']);
    expect(Array.from(s.pixels)).toEqual(Array.from(noiseImage('gaussian', { width: 28, height: 28, channels: 1 }, 0, 3)));
    const other = await openDataset('noise:gaussian', { seed: 1 });
    expect(Array.from((await other.at(3)).pixels)).not.toEqual(Array.from(s.pixels));
  });

  test('size from opts (to match the ID set) and from the spec; :N is a prefix', async () => {
    const a = await openDataset('noise:uniform:4', { noiseSize: { width: 32, height: 32, channels: 3 } });
    expect([a.size, a.width, a.height, a.channels]).toEqual([4, 32, 32, 3]);
    expect((await a.at(0)).pixels.length).toBe(3072);
    const b = await openDataset('noise:uniform:32x32x3:10');
    expect(Array.from((await b.at(2)).pixels)).toEqual(Array.from((await a.at(2)).pixels));
    const c = await openDataset('noise:uniform', { noiseCount: 7, noiseSize: { width: 4, height: 4, channels: 4 } });
    expect(c.size).toBe(7);
    const p = (await c.at(0)).pixels;
    expect([p[3], p[7], p[63]]).toEqual([255, 255, 255]); // RGBA noise is opaque
  });

  test('statistics: uniform mean 127.5, gaussian mean 127.5 and sd ≈ 64 (clipped)', () => {
    const size = { width: 100, height: 100, channels: 1 } as const;
    const stats = (a: Uint8Array) => {
      const m = a.reduce((s, v) => s + v, 0) / a.length;
      const sd = Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / a.length);
      return { m, sd };
    };
    const u = stats(noiseImage('uniform', size, 5, 0));
    expect(Math.abs(u.m - 127.5)).toBeLessThan(2);
    expect(Math.abs(u.sd - 73.9)).toBeLessThan(1.5); // 256/√12
    const g = stats(noiseImage('gaussian', size, 5, 0));
    expect(Math.abs(g.m - 127.5)).toBeLessThan(2);
    expect(g.sd).toBeGreaterThan(60);
    expect(g.sd).toBeLessThan(64); // clipping at 0 and 255 (±2 sd) trims it a little
  });
});
