// The browser demo in real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core): click samples,
// read the predicted label, the OOD verdict and score from the page, check them against the Node bundle's answer for
// the same image and model, switch the scheme, and save screenshots (desktop and phone) under artifacts/.

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ARTIFACTS, manifest, nodeAnswers, requireBuilt, ROOT, type Manifest } from './common.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// FACTS.md: the flags that make Debian's chromium run headless here
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let server: { url: string; close(): Promise<void> };
let context: BrowserContext;
let profile: string;
let m: Manifest;
const requests: string[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  requireBuilt('dist/browser/index.js', 'dist/browser/worker.js', 'dist/demo/manifest.json', 'dist/node/index.js');
  m = manifest();
  // @ts-expect-error plain JS module without types
  const { serve } = await import('../../demos/browser/serve.mjs');
  server = await serve({ port: 0 });
  profile = mkdtempSync(join(tmpdir(), 'vitguard-chromium-'));
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1280, height: 900 } });
  context.on('request', (r) => requests.push(r.url()));
});

afterAll(async () => {
  await context?.close();
  await server?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function openDemo(query = ''): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(server.url + query);
  await page.waitForSelector('#status[data-phase="ready"], #status[data-phase="error"]', { timeout: 60_000 });
  expect(await page.getAttribute('#status', 'data-phase'), await page.textContent('#status') ?? '').toBe('ready');
  return page;
}

/** Click a sample (or just wait after a scheme switch) and read what the page says once that image is done. */
async function readAnswer(page: Page, file: string, act: () => Promise<void>) {
  await act();
  await page.waitForFunction((f) => {
    const s = document.getElementById('status')!;
    return (s.dataset.phase === 'done' && s.textContent!.startsWith(f)) || s.dataset.phase === 'error';
  }, file, { timeout: 60_000 });
  expect(await page.getAttribute('#status', 'data-phase'), await page.textContent('#status') ?? '').toBe('done');
  return {
    label: (await page.textContent('#top1'))!.trim(),
    verdict: (await page.getAttribute('#verdict', 'data-verdict'))!,
    score: Number(await page.textContent('#ood-score')),
    latency: (await page.textContent('#latency'))!,
    wasm: (await page.textContent('#wasm-build'))!.trim(),
    top5: await page.$$eval('#top5 li', (lis) => lis.length),
  };
}

describe('browser demo in headless Chromium', () => {
  // one in-distribution item and out-of-distribution samples of each kind present
  const pick = () => {
    const bySet = new Map<string, string>();
    for (const s of m.samples) if (!bySet.has(s.set)) bySet.set(s.set, s.file);
    return [...bySet.values()];
  };

  test('simd build: label, verdict and score match the Node bundle exactly (fp32 and w4a8)', async () => {
    const files = pick();
    expect(files.length).toBeGreaterThanOrEqual(1);
    const page = await openDemo('?wasm=simd');
    for (const scheme of ['fp32', 'w4a8'] as const) {
      const want = await nodeAnswers(join(ROOT, 'dist', 'demo', m.schemes[scheme]), files, 'simd');
      if (scheme !== 'fp32') {
        // switching the scheme re-classifies the current image with the other model
        const last = files[files.length - 1];
        const got = await readAnswer(page, last, () => page.click(`label:has(input[value="${scheme}"])`));
        expect(got.label).toBe(want.get(last)!.label);
      }
      for (const f of files) {
        const got = await readAnswer(page, f, () => page.click(`[data-testid="sample-${f}"]`));
        const w = want.get(f)!;
        expect({ file: f, scheme, label: got.label, verdict: got.verdict }).toEqual({ file: f, scheme, label: w.label, verdict: w.verdict });
        expect(got.score).toBeCloseTo(w.score, 4); // shown with 4 decimals; same wasm, same JS: same number
        expect(got.wasm).toBe('simd');
        expect(got.top5).toBe(5);
        expect(got.latency).toMatch(/^\d+(\.\d)? ms$/);
      }
    }
    await page.screenshot({ path: join(ARTIFACTS, 'browser-demo-simd.png'), fullPage: true });
    await page.close();
  });

  test('auto picks relaxed SIMD in Chromium; answers agree with Node; works offline at a phone size', async () => {
    const files = pick();
    const want = await nodeAnswers(join(ROOT, 'dist', 'demo', m.schemes.fp32), files, 'simd');
    const page = await openDemo();
    for (const f of files) {
      const got = await readAnswer(page, f, () => page.click(`[data-testid="sample-${f}"]`));
      expect(got.wasm).toBe('relaxed');
      expect(got.label).toBe(want.get(f)!.label);
      expect(got.verdict).toBe(want.get(f)!.verdict);
      // relaxed madd may round differently; relative to the score's scale (Mahalanobis scores are in the hundreds)
      expect(Math.abs(got.score - want.get(f)!.score)).toBeLessThan(2e-3 * Math.max(1, Math.abs(want.get(f)!.score)));
    }
    // the heatmap was drawn: the overlay canvas has non-transparent pixels of more than one colour
    const heat = await page.$eval('#heat', (c) => {
      const d = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 224, 224).data;
      const colours = new Set<number>();
      let opaque = 0;
      for (let i = 0; i < d.length; i += 4) { if (d[i + 3] > 0) opaque++; colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]); }
      return { opaque, colours: colours.size };
    });
    expect(heat.opaque).toBe(224 * 224);
    expect(heat.colours).toBeGreaterThan(10);
    await page.screenshot({ path: join(ARTIFACTS, 'browser-demo.png'), fullPage: true });

    // phone viewport: nothing wider than the screen
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(ARTIFACTS, 'browser-demo-phone.png'), fullPage: true });
    await page.close();

    // offline: every request went to the demo server (or was inline data)
    const origin = new URL(server.url).origin;
    const foreign = requests.filter((u) => !u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:'));
    expect(foreign).toEqual([]);
    expect(requests.some((u) => u.endsWith('.wasm'))).toBe(true);
    expect(requests.some((u) => u.endsWith('/worker.js'))).toBe(true);
    expect(pageErrors).toEqual([]);
  });

  test('the browser bundle API: Web Worker pool equals in-thread, a crashed worker is replaced, dispose is final', async () => {
    const page = await openDemo();
    const samples = m.samples.slice(0, 6).map((x) => x.url);
    // plain JS run in the page (a string, so vitest's transform leaves its dynamic import alone)
    const script = `(async ({ modelUrl, samples }) => {
      const api = await import(new URL('../../dist/browser/index.js', location.href).href);
      const model = await (await fetch(new URL(modelUrl, new URL('../../dist/demo/', location.href)))).arrayBuffer();
      const images = await Promise.all(samples.map(async (u) => new Uint8Array(await (await fetch(new URL(u, location.href))).arrayBuffer())));
      const local = await api.createClassifier({ model: model.slice(0), worker: false });
      const pool = await api.createClassifier({ model: model.slice(0), worker: true, workers: 2 });
      const logits = (rs) => rs.map((r) => Array.from(r.logits));
      // 3 rounds of every image at once on the pool: 18 concurrent calls
      const want = logits(await Promise.all(images.map((b) => local.classify(b.slice(), { logits: true }))));
      const got = await Promise.all([0, 1, 2].map(() => Promise.all(images.map((b) => pool.classify(b.slice(), { logits: true })))));
      const same = got.every((round) => JSON.stringify(logits(round)) === JSON.stringify(want));
      const distinct = new Set(want.map((l) => l[0])).size;
      let crash = 'resolved';
      try { await pool._fault('exit'); } catch (e) { crash = e.code; }
      const after = JSON.stringify(Array.from((await pool.classify(images[0].slice(), { logits: true })).logits)) === JSON.stringify(want[0]);
      const replacements = pool.pool.replacements;
      const info = await pool.info();
      await pool.dispose();
      let disposed = 'resolved';
      try { await pool.classify(images[0].slice()); } catch (e) { disposed = e.code; }
      await local.dispose();
      return { same, distinct, crash, after, replacements, mode: info.mode, workers: info.workers, disposed };
})(${JSON.stringify({ modelUrl: m.schemes.fp32, samples })})`;
    const out = await page.evaluate(script);
    expect(out).toEqual({ same: true, distinct: samples.length, crash: 'E_WORKER', after: true, replacements: 1, mode: 'worker', workers: 2, disposed: 'E_DISPOSED' });
    await page.close();
  });
});
