// The latency benchmark's pure parts: option parsing, quantiles, and the ratio summary (no timing here).

import { describe, expect, it } from 'vitest';
import { parseArgs, quantile, summarize, type ResultLine } from '../../bench/latency.js';

const line = (engine: 'vitguard' | 'ort', scheme: string, group: 'simd' | 'relaxed', median: number, bytes = 100): ResultLine => ({
  engine, arch: 'deit_tiny_patch16_224', scheme, wasm: engine === 'ort' ? 'simd' : group, group, threads: 1,
  median_ms: median, p90_ms: median * 1.1, runs: 10, model_bytes: bytes, load_ms: 1, logit_rel_err: 0,
});

describe('bench/latency', () => {
  it('parses the documented flags, and always keeps ort fp32 as the reference', () => {
    const o = parseArgs(['--arch', 'deit_small_patch16_224', '--scheme', 'fp32,w8a8', '--wasm', 'simd,relaxed', '--runs', '7', '--warmup', '11', '--ort', 'int8', '--json']);
    expect(o).toMatchObject({ arch: 'deit_small_patch16_224', schemes: ['fp32', 'w8a8'], wasm: ['simd', 'relaxed'], runs: 7, warmup: 11, json: true });
    expect(o.ort).toEqual(['fp32', 'int8']);
    expect(() => parseArgs(['--wasm', 'scalar'])).toThrow(/simd and\/or relaxed/);
    expect(() => parseArgs(['--runs', '0'])).toThrow(/--runs must be an integer/);
    expect(() => parseArgs(['--frobnicate'])).toThrow(/unknown option --frobnicate/);
  });

  it('quantile interpolates between ranks', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.9)).toBeCloseTo(91, 10);
    expect(quantile([5], 0.9)).toBe(5);
  });

  it('takes ratios only within one process group', () => {
    const s = summarize('deit_tiny_patch16_224', [
      line('ort', 'fp32', 'simd', 100), line('ort', 'int8', 'simd', 60), line('vitguard', 'fp32', 'simd', 80, 1000), line('vitguard', 'w8a8', 'simd', 40, 300),
      line('ort', 'fp32', 'relaxed', 120), line('ort', 'int8', 'relaxed', 70), line('vitguard', 'w8a8', 'relaxed', 35, 300),
    ]) as { groups: Record<string, Record<string, number>>; size: Record<string, number> };
    expect(s.groups.simd).toEqual({
      'vitguard_fp32/ort_fp32': 0.8, 'vitguard_fp32/ort_int8': 1.333, 'vitguard_w8a8/ort_fp32': 0.4, 'vitguard_w8a8/ort_int8': 0.667, 'ort_int8/ort_fp32': 0.6,
    });
    expect(s.groups.relaxed).toEqual({ 'vitguard_w8a8/ort_fp32': 0.292, 'vitguard_w8a8/ort_int8': 0.5, 'ort_int8/ort_fp32': 0.583 });
    expect(s.size).toEqual({ 'vitguard_w8a8/vitguard_fp32': 0.3 });
  });

  it('--attention f32,int8 in the latency run: int8 lines are named <scheme>+attn_int8 in the ratios', () => {
    expect(parseArgs(['--scheme', 'w8a8', '--attention', 'f32,int8']).attention).toEqual(['f32', 'int8']);
    expect(() => parseArgs(['--attention', 'int4'])).toThrow(/f32 and\/or int8/);
    const s = summarize('deit_tiny_patch16_224', [
      line('ort', 'fp32', 'simd', 100), line('ort', 'int8', 'simd', 60), line('vitguard', 'fp32', 'simd', 80, 1000),
      line('vitguard', 'w8a8', 'simd', 40, 300), { ...line('vitguard', 'w8a8', 'simd', 36, 300), attention: 'int8' },
    ]) as { groups: Record<string, Record<string, number>>; size: Record<string, number> };
    expect(s.groups.simd['vitguard_w8a8/ort_int8']).toBe(0.667);
    expect(s.groups.simd['vitguard_w8a8+attn_int8/ort_int8']).toBe(0.6);
    expect(s.size).toEqual({ 'vitguard_w8a8/vitguard_fp32': 0.3 });
  });
});
