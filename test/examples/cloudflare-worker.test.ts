// examples/cloudflare-worker as a user builds it: copied out of the repository, `npm install` of the packed tarball,
// built by Wrangler (`wrangler deploy --dry-run --outdir`, offline) in its two configurations, and Wrangler's output
// run in workerd through miniflare (offline; R2 simulated locally):
//   bundled  models/fmnist-deit-w4a8 (459 KiB, fitted Mahalanobis detector) inside the Worker
//   r2       a random deit_small_patch16_224 at w4a8 (13 MB; made here with the package's own CLI: random-model,
//            convert, quantize) read once per isolate from the R2 binding MODELS
// Answers are compared with the same package in Node. Upload sizes (Wrangler's gzip figure) against the Workers limits
// and the workerd process's memory (VmRSS / VmHWM from /proc) go to artifacts/cloudflare-worker.json.

import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Miniflare as MiniflareT, MiniflareOptions } from 'miniflare';
import { workerdMemory } from '../e2e/common.js';
import { ARTIFACTS, installExample, removeExample, nodeAnswers, pickSamples, ROOT, run, SAMPLES, type NodeAnswer } from './common.js';

const SMALL = join(ROOT, 'models', 'fmnist-deit-w4a8.safetensors');
const R2_KEY = 'deit_small-w4a8.safetensors'; // MODEL_KEY in wrangler.toml [env.r2.vars]
const LIMITS = { freeGzipBytes: 3 * 2 ** 20, paidGzipBytes: 10 * 2 ** 20 };
// workerd's relaxed build against Node's relaxed build (same V8 lowering on this CPU): equal up to float printing
const SCORE_TOLERANCE = 1e-5;
const ENV = { WRANGLER_SEND_METRICS: 'false', CI: 'true' }; // offline: no telemetry, no prompts

let dir: string;
let Miniflare: typeof MiniflareT;
let bigModel: Uint8Array;
const files = pickSamples();
const report: Record<string, unknown> = { limits: LIMITS };

/** Wrangler's own "Total Upload: 607.03 KiB / gzip: 453.80 KiB" line, in bytes. */
function uploadSize(out: string): { bytes: number; gzipBytes: number } {
  const m = /Total Upload: ([\d.]+) (KiB|MiB) \/ gzip: ([\d.]+) (KiB|MiB)/.exec(out);
  if (!m) throw new Error(`no "Total Upload" line in wrangler's output:\n${out}`);
  const b = (n: string, u: string) => Math.round(Number(n) * (u === 'MiB' ? 2 ** 20 : 1024));
  return { bytes: b(m[1], m[2]), gzipBytes: b(m[3], m[4]) };
}

async function wranglerBuild(outdir: string, env: string) {
  const out = await run('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', outdir, `--env=${env}`], dir, ENV);
  return { ...uploadSize(out), files: readdirSync(join(dir, outdir)) };
}

/** Wrangler's output folder in workerd, with wrangler.toml's module rules; extra miniflare options (R2, vars). */
async function start(outdir: string, main: string, extra: Partial<MiniflareOptions>): Promise<MiniflareT> {
  const mf = new Miniflare({
    modules: true,
    scriptPath: join(dir, outdir, main),
    modulesRoot: join(dir, outdir),
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
      { type: 'Data', include: ['**/*.safetensors'] },
    ],
    compatibilityDate: /compatibility_date = "([\d-]+)"/.exec(readFileSync(join(dir, 'wrangler.toml'), 'utf8'))![1],
    ...extra,
  } as MiniflareOptions);
  await mf.ready;
  return mf;
}

interface WorkerAnswer { top: { label: string; prob: number }[]; ood: { score: number; isOOD: boolean | null; method: string }; timings: { totalMs: number }; model: { scheme: string; wasm: string; memoryBytes: number } }

async function classifyAll(mf: MiniflareT, want: Map<string, NodeAnswer>, tolerance: number) {
  const got: Record<string, unknown>[] = [];
  for (const f of files) {
    const res = await mf.dispatchFetch('http://worker.test/classify', { method: 'POST', body: new Uint8Array(readFileSync(join(SAMPLES, f))), headers: { 'content-type': 'image/png' } });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    const r = JSON.parse(text) as WorkerAnswer;
    const w = want.get(f)!;
    expect({ f, label: r.top[0].label, isOOD: r.ood.isOOD ?? null }).toEqual({ f, label: w.label, isOOD: w.isOOD });
    const rel = Math.abs(r.ood.score - w.score) / Math.max(1, Math.abs(w.score));
    expect(rel, `${f}: workerd ${r.ood.score}, Node ${w.score}`).toBeLessThanOrEqual(tolerance);
    got.push({ file: f, label: r.top[0].label, isOOD: r.ood.isOOD, relDiff: rel, totalMs: r.timings.totalMs, wasm: r.model.wasm, memoryBytes: r.model.memoryBytes });
  }
  return got;
}

beforeAll(async () => {
  const t0 = Date.now();
  dir = await installExample('cloudflare-worker', inject('tarball'));
  report.installS = (Date.now() - t0) / 1000;
  report.wrangler = JSON.parse(readFileSync(join(dir, 'node_modules', 'wrangler', 'package.json'), 'utf8')).version;
  // the runtime wrangler itself runs Workers in (`wrangler dev`): the example's own miniflare
  const mfEntry = createRequire(join(dir, 'node_modules', 'wrangler', 'package.json')).resolve('miniflare');
  ({ Miniflare } = await import(pathToFileURL(mfEntry).href));
  mkdirSync(join(dir, 'model'), { recursive: true });
  // the larger model, made with the package's CLI as a user would
  const t1 = Date.now();
  await run('npx', ['vitguard', 'random-model', '--arch', 'deit_small_patch16_224', '--seed', '7', '-o', 'model/deit_small.timm.safetensors'], dir);
  await run('npx', ['vitguard', 'convert', 'model/deit_small.timm.safetensors', '-o', 'model/deit_small.safetensors', '--arch', 'deit_small_patch16_224'], dir);
  await run('npx', ['vitguard', 'quantize', 'model/deit_small.safetensors', '-o', `model/${R2_KEY}`, '--scheme', 'w4a8'], dir);
  report.makeLargeModelS = (Date.now() - t1) / 1000;
  bigModel = new Uint8Array(readFileSync(join(dir, 'model', R2_KEY)));
  // the model as the large one: what bundling it would upload (the reason for R2)
  copyFileSync(join(dir, 'model', R2_KEY), join(dir, 'model', 'model.safetensors'));
  const t2 = Date.now();
  const bundledLarge = await wranglerBuild('dist-large', '');
  // then the two configurations as shipped
  copyFileSync(SMALL, join(dir, 'model', 'model.safetensors'));
  report.upload = { bundled: await wranglerBuild('dist', ''), r2: await wranglerBuild('dist-r2', 'r2'), bundledIfTheLargeModelWereBundled: bundledLarge };
  report.buildS = (Date.now() - t2) / 1000;
});

afterAll(() => {
  writeFileSync(join(ARTIFACTS, 'cloudflare-worker.json'), JSON.stringify(report, null, 1) + '\n');
  removeExample(dir);
});

test('wrangler builds both configurations; each upload is under the free plan\'s 3 MB gzip; the 13 MB model needs R2', () => {
  const up = report.upload as Record<string, { bytes: number; gzipBytes: number; files: string[] }>;
  expect(up.bundled.files.some((f) => f.endsWith('model.safetensors'))).toBe(true);
  expect(up.r2.files.some((f) => f.endsWith('.safetensors'))).toBe(false);
  for (const k of ['bundled', 'r2']) {
    expect(up[k].files.filter((f) => /vitguard\.(simd|relaxed)\.wasm$/.test(f))).toHaveLength(2);
    expect(up[k].gzipBytes).toBeLessThan(LIMITS.freeGzipBytes);
  }
  // int4 weights hardly compress: bundled, the deit_small would not fit the free plan
  expect(up.bundledIfTheLargeModelWereBundled.gzipBytes).toBeGreaterThan(LIMITS.freeGzipBytes);
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(2)} MiB`;
  console.log(`[cloudflare-worker] upload gzip: bundled ${mib(up.bundled.gzipBytes)}, r2 ${mib(up.r2.gzipBytes)}, ` +
    `deit_small bundled ${mib(up.bundledIfTheLargeModelWereBundled.gzipBytes)} (limits 3 MiB free, 10 MiB paid)`);
});

describe('in workerd', () => {
  test('bundled: every sample gets Node\'s label, verdict and score (the relaxed build, as \'auto\' picks in workerd)', async () => {
    const want = await nodeAnswers(dir, new Uint8Array(readFileSync(SMALL)), files, 'relaxed');
    const mf = await start('dist', 'bundled.js', { bindings: { WASM: 'auto' } });
    try {
      const started = workerdMemory();
      const answers = await classifyAll(mf, want, SCORE_TOLERANCE);
      expect(answers.every((a) => a.wasm === 'relaxed')).toBe(true);
      const bad = await mf.dispatchFetch('http://worker.test/classify', { method: 'POST', body: 'not an image' });
      expect(bad.status).toBe(415);
      // the package's workerd build defaults to EDGE_IMAGE_LIMITS: a phone photo is decoded reduced, bombs are refused
      // from their header, and the isolate stays within Cloudflare's 128 MB
      const hostile: Record<string, number> = {};
      for (const [f, status] of [['phone-4000x3000.jpg', 200], ['phone-4000x3000-progressive.jpg', 200], ['bomb-8000.png', 413], ['bomb-20000.png', 413]] as const) {
        const res = await mf.dispatchFetch('http://worker.test/classify', { method: 'POST', body: new Uint8Array(readFileSync(join(ROOT, 'test', 'fixtures', 'images', f))) });
        hostile[f] = res.status;
        await res.arrayBuffer();
      }
      expect(hostile).toEqual({ 'phone-4000x3000.jpg': 200, 'phone-4000x3000-progressive.jpg': 200, 'bomb-8000.png': 413, 'bomb-20000.png': 413 });
      const end = workerdMemory();
      if (end) expect(end.peakKb).toBeLessThan(128 * 1024);
      report.bundled = { model: 'models/fmnist-deit-w4a8.safetensors', answers, hostile, memory: { afterStartKb: started, afterClassifyKb: end } };
    } finally {
      await mf.dispose();
    }
  });

  test('r2: 503 until the model is in the bucket; then read once per isolate; Node\'s label and score', async () => {
    const want = await nodeAnswers(dir, bigModel, files, 'relaxed');
    type Bucket = { put(key: string, value: Uint8Array): Promise<unknown>; delete(key: string): Promise<void> };
    // (typed loosely: miniflare types its R2 API with @cloudflare/workers-types, which this project does not install)
    const bucketOf = async (mf: MiniflareT) => (await mf.getR2Bucket('MODELS')) as unknown as Bucket;
    const post = (mf: MiniflareT, f: string) => mf.dispatchFetch('http://worker.test/classify', { method: 'POST', body: new Uint8Array(readFileSync(join(SAMPLES, f))) });
    // the bucket persisted on disk, so that uploading into it (which miniflare's R2 simulator does in the same workerd
    // process, at a cost of ~100 MB there) happens in one process and the Worker is measured in a fresh one
    const options = { r2Buckets: ['MODELS'], r2Persist: join(dir, '.r2'), bindings: { WASM: 'auto', MODEL_KEY: R2_KEY } };
    const upload = await start('dist-r2', 'r2.js', options);
    try {
      const missing = await post(upload, files[0]);
      expect(missing.status).toBe(503);
      expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('E_MODEL_MISSING');
      await (await bucketOf(upload)).put(R2_KEY, bigModel);
    } finally {
      await upload.dispose();
    }
    const mf = await start('dist-r2', 'r2.js', options);
    try {
      const started = workerdMemory();
      const answers = await classifyAll(mf, want, SCORE_TOLERANCE);
      expect(answers.every((a) => a.wasm === 'relaxed')).toBe(true);
      const afterClassify = workerdMemory();
      // once per isolate: with the object gone from the bucket, the Worker still answers from the model it holds
      await (await bucketOf(mf)).delete(R2_KEY);
      expect((await post(mf, files[1])).status).toBe(200);
      const end = workerdMemory();
      const memoryBytes = answers[0].memoryBytes as number;
      const growthKb = end!.peakKb - started!.rssKb;
      report.r2 = {
        model: `random deit_small_patch16_224 w4a8, ${bigModel.byteLength} bytes`, answers,
        memory: { afterStartKb: started, afterClassifyKb: afterClassify, endKb: end, growthKb, wasmMemoryBytes: memoryBytes },
      };
      console.log(`[cloudflare-worker] workerd, 13 MB model from R2: after start ${(started!.rssKb / 1024).toFixed(1)} MiB, after classifying ` +
        `${(afterClassify!.rssKb / 1024).toFixed(1)} MiB, peak ${(end!.peakKb / 1024).toFixed(1)} MiB (whole process: runtime, R2 simulator and ` +
        `the isolate); growth ${(growthKb / 1024).toFixed(1)} MiB; wasm memory ${(memoryBytes / 2 ** 20).toFixed(1)} MiB; limit 128 MB per isolate`);
      expect(memoryBytes).toBeLessThan(32 * 2 ** 20); // relaxed keeps int4 weights packed (simd unpacks them: 51 MiB)
      // what loading and running the model added to the process (R2 read included) is an upper bound on the isolate's share
      expect(growthKb * 1024).toBeLessThan(128e6);
    } finally {
      await mf.dispose();
    }
  });
});
