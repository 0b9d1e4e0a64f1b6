// The Cloudflare Worker demo (demos/cloudflare/worker.js) in the real workerd runtime through miniflare, offline:
// real PNG and JPEG images get the same label and verdict as the Node bundle; bad bodies (not an image, empty, a
// truncated PNG, 50 MB) get a 4xx JSON error, never a 500, and the Worker keeps answering afterwards. The workerd
// process's resident memory is read from /proc and reported against the 128 MB isolate limit.

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Miniflare, type RequestInit as MfRequestInit, type Response as MfResponse } from 'miniflare';
import jpeg from 'jpeg-js';
import { decode as decodePng } from 'fast-png';
import { ARTIFACTS, DEMO_WORKER, manifest, nodeAnswers, requireBuilt, ROOT, SAMPLES, workerdMemory } from './common.js';

let mf: Miniflare;
const URL_BASE = 'http://vitguard.test';

const post = (body: MfRequestInit['body'], headers: Record<string, string> = {}) => mf.dispatchFetch(`${URL_BASE}/classify`, { method: 'POST', body, headers });

async function expectJsonError(res: MfResponse, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(5);
}

const memory: Record<string, unknown> = {};

beforeAll(async () => {
  requireBuilt('dist/cloudflare/index.js', 'dist/cloudflare/model.safetensors', 'dist/cloudflare/vitguard.relaxed.wasm', 'dist/node/index.js');
  mf = new Miniflare(DEMO_WORKER);
  await mf.ready;
});

afterAll(async () => {
  await mf?.dispose();
  writeFileSync(join(ARTIFACTS, 'cloudflare-memory.json'), JSON.stringify(memory, null, 1));
});

describe('Cloudflare Worker in workerd', () => {
  test('GET / answers a usage text', async () => {
    const res = await mf.dispatchFetch(`${URL_BASE}/`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('POST /classify');
    memory.afterStartKb = workerdMemory();
  });

  test('POST /classify: real PNGs and a JPEG get the label and verdict the Node bundle gives (int4 model)', async () => {
    const files = manifest().samples.map((s) => s.file);
    expect(files.length).toBeGreaterThan(0);
    const want = await nodeAnswers(join(ROOT, 'dist', 'cloudflare', 'model.safetensors'), files, 'simd');
    let wasm = '';
    for (const f of files) {
      const res = await post(new Uint8Array(readFileSync(join(SAMPLES, f))), { 'content-type': 'image/png' });
      expect(res.status, f).toBe(200);
      const r = (await res.json()) as { top: { label: string; prob: number }[]; ood: { score: number; isOOD: boolean | null; method: string }; model: { scheme: string; wasm: string; memoryBytes: number } };
      const w = want.get(f)!;
      expect({ f, label: r.top[0].label, isOOD: r.ood.isOOD }).toEqual({ f, label: w.label, isOOD: w.isOOD });
      // workerd runs the relaxed build, Node 20 simd: relaxed madd may round differently; the score's scale is the method's
      expect(Math.abs(r.ood.score - w.score)).toBeLessThan(1e-2 * Math.max(1, Math.abs(w.score))); // int8 activation roundings can flip
      expect(r.top).toHaveLength(5);
      expect(r.model.scheme).toBe('w4a8');
      wasm = r.model.wasm;
      memory.wasmMemoryBytes = r.model.memoryBytes;
    }
    expect(wasm).toBe('relaxed'); // FACTS.md: workerd validates relaxed SIMD, so 'auto' picks it
    if (manifest().trained) {
      // the shipped model, at int4, still names the Fashion-MNIST samples right
      const norm = (x: string) => x.toLowerCase().replace(/[^a-z0-9]/g, '');
      const fm = manifest().samples.filter((x) => x.inDistribution);
      const right = fm.filter((x) => norm(want.get(x.file)!.label) === norm(x.truth)).length;
      expect(right / fm.length).toBeGreaterThanOrEqual(0.75);
    }

    // a JPEG of the first sample
    const png = decodePng(readFileSync(join(SAMPLES, files[0])));
    const rgba = new Uint8Array(png.width * png.height * 4);
    const ch = png.channels;
    for (let i = 0; i < png.width * png.height; i++) {
      const g = Number(png.data[i * ch]);
      rgba.set(ch >= 3 ? [Number(png.data[i * ch]), Number(png.data[i * ch + 1]), Number(png.data[i * ch + 2]), 255] : [g, g, g, 255], i * 4);
    }
    const jpg = jpeg.encode({ data: rgba, width: png.width, height: png.height }, 95).data;
    const res = await post(jpg, { 'content-type': 'image/jpeg' });
    expect(res.status).toBe(200);
    const r = (await res.json()) as { top: { label: string }[] };
    expect(r.top[0].label.length).toBeGreaterThan(0);
    memory.afterClassifyKb = workerdMemory();
  });

  test('bad bodies get 4xx JSON errors, never a 500, and the Worker still answers afterwards', async () => {
    await expectJsonError(await post('this is not an image'), 415, 'E_IMAGE');
    await expectJsonError(await post(new Uint8Array(0)), 400, 'E_EMPTY');
    await expectJsonError(await post(null), 400, 'E_EMPTY');
    const png = new Uint8Array(readFileSync(join(SAMPLES, manifest().samples[0].file)));
    await expectJsonError(await post(png.subarray(0, 60)), 415, 'E_IMAGE'); // a truncated PNG
    const corrupt = Uint8Array.from(png);
    corrupt.fill(0x5a, 40, corrupt.length - 12); // valid signature, garbage chunks
    await expectJsonError(await post(corrupt), 415, 'E_IMAGE');
    // 50 MB: refused by its declared length, before it is read
    await expectJsonError(await post(new Uint8Array(50 * 1024 * 1024)), 413, 'E_TOO_LARGE');
    // 50 MB streamed without a length: refused once the limit is passed
    const chunk = new Uint8Array(1024 * 1024);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) { if (sent >= 50) c.close(); else { sent++; c.enqueue(chunk); } },
    });
    await expectJsonError(await mf.dispatchFetch(`${URL_BASE}/classify`, { method: 'POST', body: stream, duplex: 'half' } as unknown as MfRequestInit), 413, 'E_TOO_LARGE');
    await expectJsonError(await mf.dispatchFetch(`${URL_BASE}/classify`), 405, 'E_METHOD');
    await expectJsonError(await mf.dispatchFetch(`${URL_BASE}/nowhere`), 404, 'E_NOT_FOUND');
    // still alive and right
    const ok = await post(png);
    expect(ok.status).toBe(200);
    memory.afterBadBodiesKb = workerdMemory();
  });

  test('memory: the workerd process stays well under the 128 MB isolate limit', () => {
    const m = workerdMemory();
    expect(m).not.toBeNull();
    memory.finalKb = m;
    // The whole workerd process (runtime + isolate) — an upper bound on what the isolate itself uses.
    const mib = (x: unknown) => ((x as { rssKb: number } | null)?.rssKb ?? NaN) / 1024;
    console.log(`workerd memory (whole process, MiB): after start ${mib(memory.afterStartKb).toFixed(1)}, after classifying ` +
      `${mib(memory.afterClassifyKb).toFixed(1)}, after the bad bodies (50 MB posts) ${mib(memory.afterBadBodiesKb).toFixed(1)}; ` +
      `rss ${(m!.rssKb / 1024).toFixed(1)}, peak ${(m!.peakKb / 1024).toFixed(1)}; ` +
      `wasm linear memory ${((memory.wasmMemoryBytes as number) / 2 ** 20).toFixed(2)} MiB; limit 128 MB per isolate`);
    expect(m!.peakKb * 1024).toBeLessThan(128e6 * 1.5); // the whole process, runtime included
    expect(memory.wasmMemoryBytes as number).toBeLessThan(32 * 2 ** 20);
  });
});
