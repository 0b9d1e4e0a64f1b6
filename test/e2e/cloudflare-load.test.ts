// The Cloudflare demo (demos/cloudflare/worker.js) in real workerd under hostile input and load (after `npm run build`):
//   1. each hostile body posted once — PNG bombs, a 12 MP phone JPEG (baseline and progressive), truncated and
//      garbage bodies, empty, over-size, a chunk declaring 2 GB, a JPEG of 1,010 scans — gets its own answer (the
//      right 4xx, or 200 for the photo), and the workerd process's peak resident set (VmHWM, reset before each body
//      through /proc/<pid>/clear_refs) stays under the 128 MB an isolate gets;
//   2. a bounded loopback load: 2,000 requests, 8 in flight, good images and hostile bodies mixed (a seeded order),
//      stopping by itself: no 5xx, every answer the one its body should get, the isolate under 128 MB throughout
//      (sampled every 100 ms), p50 / p99 latency and both memory figures, all into artifacts/cloudflare-load.json.
// miniflare does not enforce the 128 MB limit (FACTS.md). Two figures are read:
//   - the whole workerd process (VmRSS / VmHWM from /proc): runtime, miniflare's helper workers and the isolate — an
//     upper bound. One request at a time it stays under 128 MB (test 1). Under sustained load it does not (measured:
//     ~180 MB): the runtime alone holds ~70 MB, V8 lets ArrayBuffer garbage reach its external-memory trigger
//     (~64 MB) before collecting it, and the allocator keeps freed pages;
//   - the isolate as V8 counts it — JS heap + ArrayBuffer backing stores (DevTools Runtime.getHeapUsage through
//     miniflare's inspectorPort) + the model's wasm memory (from the Worker's own answers) — what an isolate limit
//     is about. That is asserted under 128 MB throughout the load.

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { Miniflare, type RequestInit as MfRequestInit } from 'miniflare';
import { createServer } from 'node:net';
import { ARTIFACTS, DEMO_WORKER, findWorkerd, processMemoryKb, requireBuilt, ROOT, SAMPLES } from './common.js';
import { connectCdp, type Cdp, type HeapUsage } from './cdp.js';
import { parseJpeg, parsePng, writeJpeg, writePng } from '../fuzz/mutate-image.js';
import { mulberry32 } from '../../sdk/data/random.js';

const LIMIT_BYTES = 128 * 1024 * 1024;
const URL_BASE = 'http://vitguard.test';
const IMAGES = join(ROOT, 'test', 'fixtures', 'images');
let mf: Miniflare;

// --- workerd's memory -----------------------------------------------------------------------------------------

let workerdPid = 0;

/** VmRSS and VmHWM of the workerd process, bytes. */
function workerdMemory(): { rss: number; peak: number } {
  const m = processMemoryKb(workerdPid);
  return { rss: m.rssKb * 1024, peak: m.peakKb * 1024 };
}

/** Reset workerd's peak (VmHWM := VmRSS), so the next peak read belongs to what happens after. */
function resetPeak(): boolean {
  try { writeFileSync(`/proc/${workerdPid}/clear_refs`, '5'); return true; } catch { return false; }
}

const MB = (b: number) => Number((b / 2 ** 20).toFixed(1));

let cdp: Cdp;
/** The model's wasm memory, from the Worker's answers (it is constant once the classifier exists). */
let wasmBytes = 0;

/** The isolate's own memory: JS heap (total) + ArrayBuffer backing stores + the model's wasm memory, bytes. */
async function isolateBytes(): Promise<number> {
  const h = await cdp.send<HeapUsage>('Runtime.getHeapUsage');
  return h.totalSize + (h.backingStorageSize ?? 0) + wasmBytes;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

// --- the bodies -----------------------------------------------------------------------------------------------

/**
 * A body and the answer it must get. `resetOk`: the Worker refuses the body from its Content-Length without reading it,
 * so a client still uploading may see the connection closed instead of the 413 (seen under load: write ECONNRESET).
 */
interface Body { name: string; bytes: Uint8Array; status: number; code?: string; resetOk?: boolean }

function goodBodies(): Body[] {
  const out: Body[] = readdirSync(SAMPLES).filter((f) => f.endsWith('.png')).sort().map((f) => ({ name: `samples/${f}`, bytes: new Uint8Array(readFileSync(join(SAMPLES, f))), status: 200 }));
  for (const f of ['fmnist-boot-rot6.jpg', 'fmnist-boot-rot6.png']) out.push({ name: `images/${f}`, bytes: new Uint8Array(readFileSync(join(IMAGES, f))), status: 200 });
  return out;
}

/** A PNG that declares a chunk of 2 GB but holds 16 bytes of it. */
function pngHugeChunk(): Uint8Array {
  const chunks = parsePng(new Uint8Array(readFileSync(join(SAMPLES, 'fmnist-Bag-18.png'))))!;
  chunks.splice(1, 0, { type: 'iCCP', data: new Uint8Array(16), length: 0x7fffffff });
  return writePng(chunks);
}

/** The progressive phone photo with its shortest scan repeated 1,000 times: 250 KB that once took seconds. */
function jpegManyScans(): Uint8Array {
  const segs = parseJpeg(new Uint8Array(readFileSync(join(IMAGES, 'phone-4000x3000-progressive.jpg'))))!;
  const scans = segs.map((x, i) => (x.marker === 0xda ? i : -1)).filter((i) => i >= 0);
  const short = scans.reduce((a, b) => (segs[b].scan!.length < segs[a].scan!.length ? b : a));
  segs.splice(short + 1, 0, ...Array.from({ length: 1000 }, () => ({ ...segs[short] })));
  return writeJpeg(segs);
}

/** A PNG whose IDAT inflates to 16 MiB of pixels for a 4096×4096 header, cut off half-way through its data. */
function pngBombTruncated(): Uint8Array {
  const chunks = parsePng(new Uint8Array(readFileSync(join(SAMPLES, 'fmnist-Bag-18.png'))))!;
  const ih = chunks.find((c) => c.type === 'IHDR')!;
  const dv = new DataView(ih.data.buffer, ih.data.byteOffset);
  dv.setUint32(0, 4096);
  dv.setUint32(4, 4096);
  ih.data.set([8, 0, 0, 0, 0], 8);
  const z = new Uint8Array(deflateSync(new Uint8Array(4097 * 4096)));
  const rest = chunks.filter((c) => c.type !== 'IDAT' && c.type !== 'IEND');
  rest.push({ type: 'IDAT', data: z.subarray(0, z.length >> 1) }, { type: 'IEND', data: new Uint8Array(0) });
  return writePng(rest);
}

function hostileBodies(): Body[] {
  const png = new Uint8Array(readFileSync(join(SAMPLES, 'fmnist-Bag-18.png')));
  const phone = new Uint8Array(readFileSync(join(IMAGES, 'phone-4000x3000.jpg')));
  const rand = mulberry32(7);
  return [
    { name: 'bomb-8000.png (62 KB, 8000×8000)', bytes: new Uint8Array(readFileSync(join(IMAGES, 'bomb-8000.png'))), status: 413, code: 'E_IMAGE_TOO_LARGE' },
    { name: 'bomb-20000.png (390 KB, 20000×20000)', bytes: new Uint8Array(readFileSync(join(IMAGES, 'bomb-20000.png'))), status: 413, code: 'E_IMAGE_TOO_LARGE' },
    { name: 'phone-4000x3000.jpg (12 MP)', bytes: phone, status: 200 },
    { name: 'phone-4000x3000-progressive.jpg (12 MP)', bytes: new Uint8Array(readFileSync(join(IMAGES, 'phone-4000x3000-progressive.jpg'))), status: 200 },
    { name: '4096×4096 PNG bomb cut off half-way', bytes: pngBombTruncated(), status: 415, code: 'E_IMAGE' },
    { name: 'progressive JPEG of 1,010 scans', bytes: jpegManyScans(), status: 415, code: 'E_IMAGE' },
    { name: 'PNG with a chunk declaring 2 GB', bytes: pngHugeChunk(), status: 415, code: 'E_IMAGE' },
    { name: 'truncated PNG (60 bytes)', bytes: png.subarray(0, 60), status: 415, code: 'E_IMAGE' },
    { name: 'garbage (64 KB of random bytes)', bytes: Uint8Array.from({ length: 65536 }, () => Math.floor(rand() * 256)), status: 415, code: 'E_IMAGE' },
    { name: 'JPEG signature then garbage', bytes: Uint8Array.from({ length: 4096 }, (_, i) => (i < 3 ? [0xff, 0xd8, 0xff][i] : Math.floor(rand() * 256))), status: 415, code: 'E_IMAGE' },
    { name: 'text', bytes: new TextEncoder().encode('this is not an image'), status: 415, code: 'E_IMAGE' },
    { name: 'empty', bytes: new Uint8Array(0), status: 400, code: 'E_EMPTY' },
    { name: 'over-size (9 MiB)', bytes: new Uint8Array(9 * 1024 * 1024), status: 413, code: 'E_TOO_LARGE', resetOk: true },
  ];
}

interface Answer { status: number; code?: string; ms: number }

async function post(b: Body): Promise<Answer> {
  const t0 = performance.now();
  let res: Awaited<ReturnType<typeof mf.dispatchFetch>>;
  try {
    res = await mf.dispatchFetch(`${URL_BASE}/classify`, { method: 'POST', body: b.bytes, headers: { 'content-type': 'application/octet-stream' } } as MfRequestInit);
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    return { status: 0, code: `connection: ${cause}`, ms: performance.now() - t0 };
  }
  const text = await res.text();
  const ms = performance.now() - t0;
  let code: string | undefined;
  if (res.status !== 200) {
    try { code = (JSON.parse(text) as { error: { code: string } }).error.code; } catch { code = `(not JSON: ${text.slice(0, 60)})`; }
  } else {
    const r = JSON.parse(text) as { top: { label: string; prob: number }[]; model?: { memoryBytes?: number } };
    if (!(r.top?.length > 0 && Number.isFinite(r.top[0].prob))) code = '(200 without a result)';
    wasmBytes = r.model?.memoryBytes ?? wasmBytes;
  }
  return { status: res.status, code, ms };
}

const quantile = (xs: number[], q: number) => { const s = xs.slice().sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };

const report: Record<string, unknown> = { limitMB: MB(LIMIT_BYTES) };

beforeAll(async () => {
  requireBuilt('dist/cloudflare/index.js', 'dist/cloudflare/model.safetensors', 'dist/cloudflare/vitguard.relaxed.wasm');
  const inspectorPort = await freePort();
  mf = new Miniflare({ ...DEMO_WORKER, inspectorPort });
  await mf.ready;
  workerdPid = findWorkerd() ?? 0;
  if (!workerdPid) throw new Error('no workerd process started by this test');
  cdp = await connectCdp(inspectorPort, /core:user/); // the user's worker (miniflare runs helper workers beside it)
  expect((await post(goodBodies()[0])).status).toBe(200); // the model is loaded before anything is measured
  expect(wasmBytes).toBeGreaterThan(0);
  report.afterStart = { rssMB: MB(workerdMemory().rss), peakMB: MB(workerdMemory().peak), isolateMB: MB(await isolateBytes()), wasmMB: MB(wasmBytes) };
});

afterAll(async () => {
  cdp?.close();
  await mf?.dispose();
  writeFileSync(join(ARTIFACTS, 'cloudflare-load.json'), JSON.stringify(report, null, 1) + '\n');
});

describe('hostile bodies in workerd', () => {
  test('each hostile body once: its own answer, and workerd under 128 MB while it is handled', async () => {
    const rows: Record<string, unknown>[] = [];
    for (const b of hostileBodies()) {
      const reset = resetPeak();
      let isolatePeak = await isolateBytes(), polling = true;
      const poll = (async () => { while (polling) { isolatePeak = Math.max(isolatePeak, await isolateBytes()); await new Promise((r) => setTimeout(r, 10)); } })();
      const a = await post(b);
      polling = false;
      await poll;
      const m = workerdMemory();
      rows.push({ body: b.name, bytes: b.bytes.length, status: a.status, code: a.code ?? null, ms: Math.round(a.ms), peakMB: MB(m.peak), rssMB: MB(m.rss), isolatePeakMB: MB(isolatePeak), peakReset: reset });
    }
    report.hostileOnce = rows;
    console.log(`hostile bodies, one each (workerd VmHWM reset before each; isolate = heap + buffers + wasm, polled):\n${rows.map((r) => `  ${String(r.status)} ${String(r.code ?? '').padEnd(18)} ${String(r.ms).padStart(6)} ms  process peak ${String(r.peakMB).padStart(6)} MB  isolate peak ${String(r.isolatePeakMB).padStart(5)} MB  ${String(r.body)}`).join('\n')}`);
    const want = hostileBodies();
    rows.forEach((r, i) => {
      expect({ body: r.body, status: r.status, code: r.code }).toEqual({ body: want[i].name, status: want[i].status, code: want[i].code ?? null });
      expect(r.peakMB as number, `${String(r.body)}: workerd process peak`).toBeLessThan(MB(LIMIT_BYTES));
      expect(r.isolatePeakMB as number, `${String(r.body)}: isolate peak`).toBeLessThan(MB(LIMIT_BYTES));
    });
    // still alive and right afterwards
    expect((await post(goodBodies()[1])).status).toBe(200);
  }, 300_000);
});

describe('a bounded load in workerd', () => {
  test('2,000 requests, 8 in flight, good and hostile mixed: no 5xx, every answer right, under 128 MB throughout', async () => {
    const good = goodBodies(), hostile = hostileBodies();
    // a seeded order: about 3 good requests for every hostile one
    const rand = mulberry32(2026);
    const plan = Array.from({ length: 2000 }, () => (rand() < 0.75 ? good[Math.floor(rand() * good.length)] : hostile[Math.floor(rand() * hostile.length)]));
    resetPeak();
    let maxPeak = 0, maxRss = 0, maxIsolate = 0, samples = 0, sampling = false;
    const watch = setInterval(() => {
      const m = workerdMemory();
      maxPeak = Math.max(maxPeak, m.peak);
      maxRss = Math.max(maxRss, m.rss);
      samples++;
      if (sampling) return; // the previous DevTools answer is still on its way (the isolate is busy)
      sampling = true;
      void isolateBytes().then((b) => { maxIsolate = Math.max(maxIsolate, b); }).finally(() => { sampling = false; });
    }, 100);
    const answers: (Answer & { body: Body })[] = new Array(plan.length);
    let next = 0;
    const t0 = performance.now();
    try {
      await Promise.all(Array.from({ length: 8 }, async () => {
        while (next < plan.length) {
          const i = next++;
          answers[i] = { ...(await post(plan[i])), body: plan[i] };
        }
      }));
    } finally {
      clearInterval(watch);
    }
    const wallS = (performance.now() - t0) / 1000;
    const end = workerdMemory();
    maxPeak = Math.max(maxPeak, end.peak);
    const resets = answers.filter((a) => a.status === 0 && a.body.resetOk && /ECONNRESET|EPIPE/.test(a.code ?? ''));
    const wrong = answers.filter((a) => !resets.includes(a) && (a.status !== a.body.status || (a.code ?? null) !== (a.body.code ?? null)));
    const ms = answers.map((a) => a.ms);
    const goodMs = answers.filter((a) => a.body.status === 200).map((a) => a.ms);
    const summary = {
      requests: answers.length, concurrency: 8, wallSeconds: Number(wallS.toFixed(1)), requestsPerSecond: Number((answers.length / wallS).toFixed(1)),
      status: answers.reduce<Record<number, number>>((s, a) => { s[a.status] = (s[a.status] ?? 0) + 1; return s; }, {}),
      overSizeClosedDuringUpload: resets.length,
      latencyMs: { p50: Number(quantile(ms, 0.5).toFixed(1)), p99: Number(quantile(ms, 0.99).toFixed(1)), max: Number(Math.max(...ms).toFixed(1)) },
      latencyMsGood: { p50: Number(quantile(goodMs, 0.5).toFixed(1)), p99: Number(quantile(goodMs, 0.99).toFixed(1)) },
      workerd: { processPeakMB: MB(maxPeak), processMaxRssMB: MB(maxRss), processEndRssMB: MB(end.rss), isolatePeakMB: MB(maxIsolate), wasmMB: MB(wasmBytes), samples },
      wrong: wrong.slice(0, 10).map((a) => ({ body: a.body.name, want: [a.body.status, a.body.code ?? null], got: [a.status, a.code ?? null] })),
    };
    report.load = summary;
    console.log(`load: ${summary.requests} requests in ${summary.wallSeconds} s (${summary.requestsPerSecond}/s), statuses ${JSON.stringify(summary.status)}; ` +
      `latency p50 ${summary.latencyMs.p50} ms, p99 ${summary.latencyMs.p99} ms (200s: p50 ${summary.latencyMsGood.p50}, p99 ${summary.latencyMsGood.p99}); ` +
      `isolate (heap + buffers + wasm) peak ${summary.workerd.isolatePeakMB} MB (limit 128); whole workerd process peak ${summary.workerd.processPeakMB} MB, end RSS ${summary.workerd.processEndRssMB} MB`);
    expect(answers.filter((a) => a.status >= 500)).toEqual([]);
    expect(summary.wrong).toEqual([]);
    expect(maxIsolate).toBeGreaterThan(wasmBytes); // the sampling worked
    expect(maxIsolate).toBeLessThan(LIMIT_BYTES);
  }, 900_000);
});
