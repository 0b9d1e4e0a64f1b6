// The bench page's and perf:docs' pure parts: the issue-10 targets read from result lines (bench/targets.ts), the
// SVG bar chart (bench/chart.ts) and the user-agent names (bench/ua.ts). No timing here.

import { describe, expect, it } from 'vitest';
import { barChart } from '../../bench/chart.js';
import type { ResultLine } from '../../bench/measure.js';
import { latencyTargets } from '../../bench/targets.js';
import { browserName } from '../../bench/ua.js';

const line = (engine: 'vitguard' | 'ort', scheme: string, group: 'simd' | 'relaxed', median: number, o: Partial<ResultLine> = {}): ResultLine => ({
  engine, arch: 'deit_tiny_patch16_224', scheme, wasm: engine === 'ort' ? 'simd' : group, group, threads: 1,
  median_ms: median, p90_ms: median * 1.1, runs: 10, model_bytes: 100, load_ms: 10, logit_rel_err: 0, ...o,
});

describe('latencyTargets', () => {
  const lines = [
    line('ort', 'fp32', 'simd', 100, { load_ms: 200 }), line('ort', 'int8', 'simd', 60, { load_ms: 100 }),
    line('vitguard', 'fp32', 'simd', 55, { load_ms: 50 }), line('vitguard', 'w8a8', 'simd', 36, { load_ms: 60 }),
    line('vitguard', 'w4a8', 'simd', 40),
  ];
  const byName = (ls: ResultLine[]) => new Map(latencyTargets(ls).map((t) => [`${t.group} ${t.name}`, t]));

  it('marks each deit_tiny target met or missed by how much, the best quantized scheme named', () => {
    const t = byName(lines);
    expect(t.get('simd vitguard fp32 / ORT fp32')).toMatchObject({ value: 0.55, limit: 0.6, met: true });
    // best quantized = w8a8 (36 ms): 36/60 = 0.6 > 0.55, missed by 9 %
    expect(t.get('simd best quantized / ORT int8')).toMatchObject({ value: 0.6, met: false, detail: 'w8a8 0.60 > 0.55: missed by 9 %' });
    expect(t.get('simd best quantized / ORT fp32')).toMatchObject({ value: 0.36, met: false });
    expect(t.get('simd w4a8 / w8a8')).toMatchObject({ value: 1.111, limit: 1.05, met: false });
    expect(t.get('simd load fp32 / ORT fp32 session')).toMatchObject({ value: 0.25, met: true });
    expect(t.get('simd load w8a8 / ORT int8 session')).toMatchObject({ value: 0.6, met: false });
    expect(t.has('simd load w4a8 / ORT int4 session')).toBe(false); // no ORT int4 line
  });

  it('uses the relaxed limit on the relaxed group, deit_small its own, and reports what was not run as not measured', () => {
    const relaxed = lines.map((l) => ({ ...l, group: 'relaxed' as const, wasm: l.engine === 'ort' ? 'simd' as const : 'relaxed' as const }));
    expect(byName(relaxed).get('relaxed vitguard fp32 / ORT fp32')).toMatchObject({ limit: 0.5, met: false });
    const small = lines.map((l) => ({ ...l, arch: 'deit_small_patch16_224' }));
    const s = byName(small);
    expect(s.get('simd best quantized / ORT int8')).toMatchObject({ limit: 0.6, met: true });
    expect(s.has('simd vitguard fp32 / ORT fp32')).toBe(false);
    const noW4 = byName(lines.filter((l) => l.scheme !== 'w4a8'));
    expect(noW4.get('simd w4a8 / w8a8')).toMatchObject({ value: null, met: null, detail: 'not measured' });
  });

  it('compares a scheme on two threads with itself on one', () => {
    const t = byName([...lines, line('vitguard', 'w8a8', 'simd', 20, { threads: 2 })]);
    expect(t.get('simd w8a8 2 threads / 1 thread')).toMatchObject({ value: 0.556, limit: 0.55, met: false });
    // the two-thread line takes no part in the one-thread targets
    expect(t.get('simd best quantized / ORT int8')?.value).toBe(0.6);
  });
});

describe('barChart', () => {
  it('draws one bar per entry with its value, whisker and marks, scaled to the largest', () => {
    const svg = barChart([
      { title: 'simd <build>', bars: [{ label: 'ORT fp32', value: 100, whisker: 120, kind: 'ort' }, { label: 'w8a8', value: 50, kind: 'vitguard', note: '0.5× ORT' }], marks: [{ value: 55, label: '0.55' }] },
      { title: 'relaxed', bars: [{ label: 'w8a8', value: 40, kind: 'vitguard' }] },
    ], { title: 'deit_tiny', width: 600 });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<rect class="bar"/g)).toHaveLength(3);
    expect(svg).toContain('simd &lt;build&gt;'); // escaped
    expect(svg).toContain('50.0 ms  0.5× ORT');
    expect(svg).toContain('stroke-dasharray'); // the mark
    const widths = [...svg.matchAll(/<rect class="bar" x="[\d.]+" y="[\d.]+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(widths[0] / widths[1]).toBeCloseTo(2, 2);
    expect(widths[1] / widths[2]).toBeCloseTo(50 / 40, 2);
  });
});

describe('browserName', () => {
  it('names the engine and its version, whatever the brand', () => {
    expect(browserName('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36')).toBe('chromium 156.0.0.0 (headless, Linux)');
    expect(browserName('Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36')).toBe('chromium 131.0.6778.81 (Chrome, Android)');
    expect(browserName('Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36')).toBe('chromium 121.0.0.0 (Samsung Internet, Android)');
    expect(browserName('Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0')).toBe('firefox 153.0 (Linux)');
    expect(browserName('Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1')).toBe('webkit 18.1 (Safari, iOS)');
    expect(browserName('Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1')).toBe('webkit 18.1 (Chrome, iOS)');
    expect(browserName('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15')).toBe('webkit 18.1 (Safari, macOS)');
    expect(browserName('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/60.5 Safari/605.1.15')).toBe('webkit 605.1.15 (WebKitGTK, Linux)');
  });
});
