// The on-device bench page (demos/browser/bench.html) in each engine here, kept short (deit_tiny, fp32 and w8a8,
// 1 warm-up + 3 runs): it finishes without an error, every wasm build the engine validates gets its own group with
// ORT fp32 and int8, and the lines are sane — the fields `npm run bench -- --json` writes plus "browser", positive
// medians with p90 ≥ median, vitguard fp32 matching ORT fp32's logits (the same weights), w8a8 and ORT int8 near
// them, file sizes and the summary's ratios — and the page shows them as a table, a chart and the copyable JSON.
// No timing is asserted.

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS, requireBuilt } from './common.js';
import { enginesToTest, launch, type Browser, type Engine } from './browsers.js';

let server: { url: string; close(): Promise<void> };

beforeAll(async () => {
  requireBuilt('dist/bench/bench.js', 'dist/bench/vitguard.simd.wasm', 'dist/bench/vitguard.relaxed.wasm');
  // @ts-expect-error plain JS module without types
  const { serve } = await import('../../demos/browser/serve.mjs');
  server = await serve({ port: 0 });
});

afterAll(async () => {
  await server?.close();
});

/** The keys of a Node result line (bench/measure.ts ResultLine), in order, and the page's addition. */
const LINE_KEYS = ['engine', 'arch', 'scheme', 'wasm', 'group', 'threads', 'median_ms', 'p90_ms', 'runs', 'model_bytes', 'load_ms', 'logit_rel_err', 'browser'];

interface Line { engine: string; arch: string; scheme: string; wasm: string; group: string; threads: number; median_ms: number; p90_ms: number; runs: number; model_bytes: number; load_ms: number; logit_rel_err: number; browser: string }
interface PageState { phase: string; error: string | null; lines: Line[]; summaries: Record<string, unknown>[]; env: { relaxed: boolean; browser: string } }

for (const { engine, skip } of enginesToTest()) {
  describe.skipIf(skip !== null)(`bench page in ${engine}`, () => {
    let b: Browser;

    beforeAll(async () => {
      b = await launch(engine as Engine);
    });

    afterAll(async () => {
      await b?.close();
    });

    test('runs and reports sane lines', async () => {
      await b.goto(`${server.url}bench.html?arch=deit_tiny_patch16_224&scheme=fp32,w8a8&wasm=simd,relaxed&ort=fp32,int8&warmup=1&runs=3&autorun=1`);
      await b.waitFor(`['done', 'error'].includes(window.vitguardBench?.phase)`, 150_000);
      const s = await b.evaluate<PageState>('window.vitguardBench');
      expect(s.error).toBeNull();
      expect(s.phase).toBe('done');
      expect(b.pageErrors() ?? []).toEqual([]);
      writeFileSync(join(ARTIFACTS, `bench-page-${engine}.jsonl`), [...s.lines, ...s.summaries].map((l) => JSON.stringify(l)).join('\n') + '\n');

      const groups = s.env.relaxed ? ['simd', 'relaxed'] : ['simd'];
      expect([...new Set(s.lines.map((l) => l.group))]).toEqual(groups);
      expect(s.env.browser.startsWith(`${engine} `), s.env.browser).toBe(true);
      for (const group of groups) {
        const g = s.lines.filter((l) => l.group === group);
        expect(g.map((l) => `${l.engine} ${l.scheme}`)).toEqual(['ort fp32', 'ort int8', 'vitguard fp32', 'vitguard w8a8']);
        const get = (e: string, sc: string) => g.find((l) => l.engine === e && l.scheme === sc)!;
        for (const l of g) {
          expect(Object.keys(l)).toEqual(LINE_KEYS);
          expect(l).toMatchObject({ arch: 'deit_tiny_patch16_224', threads: 1, runs: 3, browser: s.env.browser, wasm: l.engine === 'ort' ? 'simd' : group });
          expect(l.median_ms).toBeGreaterThan(0);
          expect(l.p90_ms).toBeGreaterThanOrEqual(l.median_ms);
          expect(l.load_ms).toBeGreaterThan(0);
        }
        // the same random weights: vitguard fp32 is ORT fp32 to float rounding; 8-bit paths stay near it
        expect(get('ort', 'fp32').logit_rel_err).toBe(0);
        expect(get('vitguard', 'fp32').logit_rel_err).toBeLessThan(1e-4);
        expect(get('vitguard', 'w8a8').logit_rel_err).toBeLessThan(0.1);
        expect(get('ort', 'int8').logit_rel_err).toBeLessThan(0.1);
        const fp32Bytes = get('vitguard', 'fp32').model_bytes;
        expect(fp32Bytes).toBeGreaterThan(20e6); // 5.7 M parameters × 4 bytes
        expect(get('vitguard', 'w8a8').model_bytes / fp32Bytes).toBeGreaterThan(0.25);
        expect(get('vitguard', 'w8a8').model_bytes / fp32Bytes).toBeLessThan(0.35);
      }
      expect(s.summaries).toHaveLength(1);
      const sum = s.summaries[0] as { summary: boolean; arch: string; browser: string; groups: Record<string, Record<string, number>>; size: Record<string, number> };
      expect(sum).toMatchObject({ summary: true, arch: 'deit_tiny_patch16_224', browser: s.env.browser });
      for (const group of groups) {
        for (const k of ['vitguard_fp32/ort_fp32', 'vitguard_w8a8/ort_fp32', 'vitguard_w8a8/ort_int8', 'ort_int8/ort_fp32']) {
          expect(sum.groups[group][k], `${group} ${k}`).toBeGreaterThan(0);
          expect(Number.isFinite(sum.groups[group][k])).toBe(true);
        }
      }
      expect(sum.size['vitguard_w8a8/vitguard_fp32']).toBeCloseTo(get0(s.lines, 'w8a8') / get0(s.lines, 'fp32'), 3);

      // what the visitor sees: a row per line, a chart with a bar per line, the JSON lines to copy
      const view = await b.evaluate<{ rows: number; bars: number; json: string; copy: boolean }>(`({
        rows: document.querySelectorAll('#table tr[data-engine]').length,
        bars: document.querySelectorAll('#chart svg rect.bar').length,
        json: document.getElementById('json').value,
        copy: !document.getElementById('copy').disabled })`);
      expect(view.rows).toBe(s.lines.length);
      expect(view.bars).toBe(s.lines.length);
      expect(view.copy).toBe(true);
      expect(view.json.split('\n').map((l) => JSON.parse(l))).toEqual([...s.lines, ...s.summaries]);
    });
  });
}

function get0(lines: Line[], scheme: string): number {
  return lines.find((l) => l.engine === 'vitguard' && l.scheme === scheme && l.group === 'simd')!.model_bytes;
}
