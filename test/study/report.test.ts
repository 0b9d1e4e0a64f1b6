import { describe, expect, it } from 'vitest';
import { decode } from 'fast-png';
import { outlierAwareSummary, lineChartSvg, evalMarkdown, evalHtml } from '../../sdk/study/report.js';
import { OA_RULES } from '../../sdk/study/outlier-scheme.js';
import type { EvalResult, EvalRow } from '../../sdk/study/eval.js';
import { addDrops, classifierHead } from '../../sdk/study/eval.js';
import { colormap, heatmapPng, OVERLAY } from '../../sdk/study/heatmap.js';
import { runSweep, sweepSchemes, sweepSvg } from '../../sdk/study/sweep.js';
import { benchSchemes } from '../../sdk/study/latency.js';
import { quantizeModel, dequantizeQ8, readQ8 } from '../../sdk/quant/index.js';
import { toFloat32 } from '../../sdk/format/safetensors.js';
import { tinyModel } from './helpers.js';

function result(rows: Array<[string, string, string, number]>, latency: Array<[string, number]>): EvalResult {
  const r: EvalRow[] = rows.map(([scheme, score, ood, auprOut]) => ({
    model: 'm', arch: 'a', scheme, score: score as EvalRow['score'], ood, accuracy: 0.9, auroc: 0.5, auprIn: 0.5, auprOut, fpr95: 0.5,
    auprOutDropAbs: null, auprOutDropRel: null, nId: 1, nOod: 1, nFit: 0,
  }));
  return {
    format: 'vitguard-eval/1',
    setup: { id: 'i', ood: ['a', 'b'], fit: null, schemes: ['fp32', 'w4a4', 'w4a4-oa'], scores: ['msp'], limit: null, wasm: 'simd', specs: { id: 'i', ood: ['a', 'b'], fit: null } },
    definitions: { fpr95: '', aupr: '', drop: '' }, models: [], rows: addDrops(r), seconds: 0,
    latency: latency.map(([scheme, medianMs]) => ({ model: 'm', scheme, medianMs, runs: 5, wasm: 'simd' })),
  };
}

describe('reports', () => {
  it('outlier-aware summary: lost points, share recovered, latency ratio; nothing claimed under the noise floor', () => {
    const res = result([
      ['fp32', 'msp', 'a', 0.9], ['fp32', 'msp', 'b', 0.8],
      ['w4a4', 'msp', 'a', 0.8], ['w4a4', 'msp', 'b', 0.7], // lost 10 pts
      ['w4a4-oa', 'msp', 'a', 0.87], ['w4a4-oa', 'msp', 'b', 0.77], // lost 3 pts → 70 % recovered
    ], [['w4a4', 5], ['w4a4-oa', 5.25]]);
    const s = outlierAwareSummary(res);
    expect(s.map((x) => x.score)).toEqual(['msp', 'mean']);
    expect(s[0].lostPlain).toBeCloseTo(10, 10);
    expect(s[0].lostOa).toBeCloseTo(3, 10);
    expect(s[0].recovered).toBeCloseTo(0.7, 10);
    expect(s[0].latencyRatio).toBeCloseTo(1.05, 10);
    const small = outlierAwareSummary(result([['fp32', 'msp', 'a', 0.9], ['w4a4', 'msp', 'a', 0.895], ['w4a4-oa', 'msp', 'a', 0.9]], []));
    expect(small[0].recovered).toBeNull();
    expect(small[0].latencyRatio).toBeNull();
    // the reports say what the -oa scheme keeps at 8 bits
    const md = evalMarkdown(res);
    expect(md).toContain(`- \`w4a4-oa\`: ${OA_RULES['w4a4-oa']}.`);
    expect(md).toMatch(/class \(and distillation\) token/);
    expect(md).not.toContain('`w4a8-oa`');
    expect(evalHtml(res)).toContain('<li><code>w4a4-oa</code>: int4 weights');
  });

  it('SVG line chart and sweep plot are self-contained SVG with one polyline per series', () => {
    const svg = lineChartSvg({ title: 'a<b', xLabel: 'bits', yLabel: 'y', series: [{ name: 's1', points: [[2, 1], [4, 3]] }, { name: 's2', points: [[2, 2], [4, 2]], dashed: true }] });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain('a&lt;b');
    expect(() => sweepSchemes([1, 4], '8')).toThrow(/2\.\.8/);
    expect(sweepSchemes([2, 4], 'same')).toEqual(['sim-w2a2', 'sim-w4a4']);
    expect(sweepSchemes([3], '8')).toEqual(['sim-w3a8']);
  });

  it('sweep on a tiny model: a point per width, fp32 reference, accuracy and AUPR-out in [0, 1]', async () => {
    const r = await runSweep({ model: { name: 'tiny', file: tinyModel(5) }, bits: [2, 8], acts: '8', id: 'fashion-mnist:test', ood: ['noise:gaussian'], scores: ['msp', 'energy'], limit: 12 });
    expect(r.points.map((p) => p.scheme)).toEqual(['sim-w2a8', 'sim-w8a8']);
    for (const p of r.points) for (const s of ['msp', 'energy']) expect(p.auprOut[s]).toBeGreaterThanOrEqual(0);
    // 8-bit weights and activations barely move the logits: AUPR-out within 5 points of fp32
    expect(Math.abs(r.points[1].auprOutDropAbs.msp!)).toBeLessThan(5);
    expect(sweepSvg(r).match(/<polyline/g)!.length).toBe(2 + 2);
  }, 30_000);

  it('heatmap PNG: rows × 3 panels, colour map end points', () => {
    expect(colormap(0)).toEqual([0, 0, 4]);
    expect(colormap(1)).toEqual([252, 255, 164]);
    expect(colormap(NaN)).toEqual([0, 0, 4]);
    const meta = tinyModel().meta;
    const chw = new Float32Array(28 * 28).fill(1); // normalised 1 → pixel (1·0.5 + 0.5)·255 = 255
    const map = new Float32Array(16).map((_, i) => i);
    const png = decode(heatmapPng([{ chw, grid: 4, map, rollout: map }, { chw, grid: 4, map, rollout: map }], meta, 40, 2));
    expect([png.width, png.height, png.channels]).toEqual([3 * 40 + 4 * 2, 2 * 40 + 3 * 2, 3]);
    const at = (x: number, y: number) => Array.from(png.data.slice((y * png.width + x) * 3, (y * png.width + x) * 3 + 3));
    expect(at(2, 2)).toEqual([255, 255, 255]); // image panel
    const overWhite = (rgb: number[]) => rgb.map((v) => Math.round(OVERLAY * v + (1 - OVERLAY) * 255)); // drawn over the (white) image
    expect(at(2 * 2 + 40, 2)).toEqual(overWhite(colormap(0))); // map cell 0 = minimum
    expect(at(2 * 2 + 40 + 39, 2 + 39)).toEqual(overWhite(colormap(1))); // cell 15 = maximum
    expect(at(3 * 2 + 80 + 39, 2 + 39)).toEqual(overWhite(colormap(1))); // rollout panel, same map
  });

  it('ViM head of a quantized model is the dequantized head; latency bench gives a median per scheme', async () => {
    const fp = tinyModel(6);
    const q = quantizeModel(fp, { scheme: 'w8a8', edges: 'int8' });
    const h = classifierHead(q);
    const want = dequantizeQ8(readQ8('head', q.tensors.get('head.weight.q')!, q.tensors.get('head.weight.scale')!));
    expect(h.weight).toEqual(want);
    const orig = toFloat32(fp.tensors.get('head.weight')!);
    expect(Math.max(...h.weight.map((v, i) => Math.abs(v - orig[i])))).toBeLessThan(0.02);
    const lat = await benchSchemes(fp, ['fp32', 'w8a8'], { runs: 3, warmup: 1 });
    expect(lat.map((l) => l.scheme)).toEqual(['fp32', 'w8a8']);
    for (const l of lat) expect(l.medianMs).toBeGreaterThan(0);
  });
});
