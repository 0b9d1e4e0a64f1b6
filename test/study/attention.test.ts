// The int8 attention path in the study: `vitguard eval --attention f32,int8` (runEval's attention, rows named
// <scheme>+attn_int8, attentionDeltas paired on the same images, the report's section) and
// `vitguard accuracy --attention f32,int8` (each scheme once per path, the int8 line against its f32 line).

import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { runEval } from '../../sdk/study/eval.js';
import { evalMarkdown, evalText } from '../../sdk/study/report.js';
import { run as accuracyCli } from '../../sdk/cli/accuracy.js';
import { tinyModel } from './helpers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('eval --attention f32,int8', () => {
  it('each scheme on both paths; deltas int8 − f32 match the rows; the report shows them', async () => {
    const res = await runEval({
      models: [{ name: 'tiny', file: tinyModel(2) }],
      id: 'fashion-mnist:test', ood: ['mnist:test', 'noise:gaussian'], schemes: ['fp32', 'w8a8'], scores: ['msp', 'energy'],
      limit: 20, batch: 8, bootstrap: 50, attention: ['f32', 'int8'],
    });
    expect(res.setup.attention).toEqual(['f32', 'int8']);
    expect(res.models.map((m) => m.scheme)).toEqual(['fp32', 'fp32+attn_int8', 'w8a8', 'w8a8+attn_int8']);
    expect(res.rows).toHaveLength(4 * 2 * 2);
    // every int8 row has its drop against the fp32 (f32 attention) row
    for (const r of res.rows.filter((x) => x.scheme.endsWith('+attn_int8'))) expect(r.auprOutDropAbs).not.toBeNull();
    const d = res.attentionDeltas!;
    expect(d.map((x) => `${x.scheme} ${x.score}`)).toEqual(['fp32 msp', 'fp32 energy', 'fp32 mean', 'w8a8 msp', 'w8a8 energy', 'w8a8 mean']);
    for (const x of d) {
      const m = (s: string) => res.models.find((y) => y.scheme === s)!.accuracy;
      expect(x.top1F32).toBe(m(x.scheme));
      expect(x.top1Int8).toBe(m(`${x.scheme}+attn_int8`));
      expect(x.top1DeltaPts).toBeCloseTo(100 * (x.top1Int8 - x.top1F32), 10);
      expect(x.top1Agreement).toBeGreaterThan(0);
      expect(x.top1Agreement).toBeLessThanOrEqual(1);
      if (x.score === 'mean') continue;
      const rows = (s: string) => res.rows.filter((r) => r.scheme === s && r.score === x.score);
      const f = rows(x.scheme), q = rows(`${x.scheme}+attn_int8`);
      const meanDiff = 100 * q.reduce((s, r, i) => s + r.auprOut - f[i].auprOut, 0) / q.length;
      expect(x.auprOutDeltaPts).toBeCloseTo(meanDiff, 10);
      expect(x.auprOutCi![0]).toBeLessThanOrEqual(x.auprOutCi![1]);
      expect(x.aurocCi![0]).toBeLessThanOrEqual(x.aurocCi![1]);
    }
    const md = evalMarkdown(res);
    expect(md).toContain('## int8 attention against f32 attention');
    expect(md).toContain('attention f32, int8');
    expect(md.split('\n').filter((l) => /^\| tiny \| (fp32|w8a8) \| mean \|/.test(l))).toHaveLength(2);
    expect(evalText(res)).toContain('int8 against f32 attention:');
  }, 60_000);

  it('one path: no deltas; an unknown path is a usage error', async () => {
    const cfg = { models: [{ name: 'tiny', file: tinyModel(2) }], id: 'fashion-mnist:test', ood: ['noise:gaussian'], schemes: ['w8a8'], scores: ['msp' as const], limit: 8, bootstrap: 0 };
    const one = await runEval({ ...cfg, attention: ['int8'] });
    expect(one.models.map((m) => m.scheme)).toEqual(['w8a8+attn_int8']);
    expect(one.attentionDeltas).toBeUndefined();
    await expect(runEval({ ...cfg, attention: ['int4' as never] })).rejects.toMatchObject({ code: 'E_USAGE' });
  }, 60_000);
});

describe('accuracy --attention f32,int8', () => {
  it('the int8 line of each scheme carries its change against the same scheme with f32 attention', async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((s: unknown) => { lines.push(String(s)); });
    try {
      await accuracyCli([resolve(root, 'models/fmnist-deit.safetensors'), '--data', 'fashion-mnist:test:24', '--schemes', 'fp32,w8a8', '--attention', 'f32,int8', '--json', '--wasm', 'simd']);
    } finally {
      spy.mockRestore();
    }
    const rows = lines.map((l) => JSON.parse(l) as Record<string, number | string>);
    expect(rows.map((r) => `${r.scheme} ${r.attention}`)).toEqual(['fp32 f32', 'fp32 int8', 'w8a8 f32', 'w8a8 int8']);
    for (const k of [1, 3]) {
      expect(rows[k].attn_delta_points).toBeCloseTo(100 * ((rows[k].top1 as number) - (rows[k - 1].top1 as number)), 2);
      expect(rows[k].attn_agreement).toBeGreaterThan(0.8);
    }
    expect(rows[0].attn_delta_points).toBeUndefined();
    await expect(accuracyCli([resolve(root, 'models/fmnist-deit.safetensors'), '--data', 'fashion-mnist:test:4', '--attention', 'fp8'])).rejects.toMatchObject({ code: 'E_USAGE' });
  }, 60_000);
});
