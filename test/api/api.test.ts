// The public API (sdk/index.ts): in-thread and worker_threads give identical answers; a pool answers every
// concurrent caller with its own result; dispose, wasm traps, dead and hung workers end in typed errors, the worker is
// replaced, and no call is left pending.

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClassifier, VitguardError, type ClassifyResult, type VitguardClassifier } from '../../sdk/index.js';
import { randomPng, randomRgba, smallModel, within } from './fixtures.js';
import { workerMode } from './worker-build.js';

const MODEL = smallModel(1);

/** Options for worker mode: the entry transpiled from the sources, the wasm from build/. */
const W = workerMode();

async function codeOf(p: Promise<unknown>, ms = 20_000): Promise<string> {
  try {
    await within(p, ms, 'call');
  } catch (e) {
    if (e instanceof VitguardError) return e.code;
    throw e;
  }
  return 'resolved';
}

/** Results without timings (which differ run to run). */
const stable = (r: ClassifyResult) => ({ top: r.top, ood: r.ood, logits: r.logits ? Array.from(r.logits) : undefined });

describe('in-thread and worker_threads agree', () => {
  let local: VitguardClassifier;
  let remote: VitguardClassifier;
  beforeAll(async () => {
    local = await createClassifier({ model: MODEL });
    remote = await createClassifier({ model: MODEL, ...W });
  });
  afterAll(async () => { await local?.dispose(); await remote?.dispose(); });

  test('classify: PNG bytes, RGBA pixels, ArrayBuffer — identical top-k, probabilities, OOD score and logits', async () => {
    const inputs = () => [randomPng(11), randomRgba(12, 40, 33), randomPng(13, 64, 50).slice().buffer as ArrayBuffer];
    const a = await Promise.all(inputs().map((im) => local.classify(im, { topK: 10, logits: true })));
    const b = await Promise.all(inputs().map((im) => remote.classify(im, { topK: 10, logits: true })));
    expect(b.map(stable)).toEqual(a.map(stable));
    for (const r of a) {
      expect(r.top).toHaveLength(10);
      expect(r.top.reduce((s, t) => s + t.prob, 0)).toBeCloseTo(1, 6);
      expect(r.ood.method).toBe('msp');
      expect(r.ood.score).toBeCloseTo(r.top[0].prob, 12); // MSP until a detector is fitted
      expect(r.logits).toBeInstanceOf(Float32Array);
      expect(r.logits!.length).toBe(10);
    }
    // different images give different answers (the comparison above is not vacuous)
    expect(a[0].logits).not.toEqual(a[1].logits);
  });

  test('embed, attention and classifyBatch are identical too', async () => {
    const [ea, eb] = [await local.embed(randomPng(21)), await remote.embed(randomPng(21))];
    expect(ea).toBeInstanceOf(Float32Array);
    expect(ea.length).toBe(32);
    expect(Array.from(eb)).toEqual(Array.from(ea));

    const [aa, ab] = [await local.attention(randomPng(22)), await remote.attention(randomPng(22))];
    expect(aa.grid).toBe(4);
    expect(aa.map.length).toBe(16);
    expect(Array.from(ab.map)).toEqual(Array.from(aa.map));
    expect(Array.from(ab.rollout)).toEqual(Array.from(aa.rollout));
    const mapSum = aa.map.reduce((s, v) => s + v, 0);
    expect(mapSum).toBeGreaterThan(0);
    expect(mapSum).toBeLessThanOrEqual(1 + 1e-5); // the class token's attention to patches: part of one softmax row

    const imgs = () => [randomPng(31), randomPng(32), randomRgba(33)];
    const ba = await local.classifyBatch(imgs(), { topK: 3 });
    const bb = await remote.classifyBatch(imgs(), { topK: 3 });
    expect(bb.map(stable)).toEqual(ba.map(stable));
    expect(ba).toHaveLength(3);
  });

  test('info names the mode, the model and the wasm build', async () => {
    const [ia, ib] = [await local.info(), await remote.info()];
    expect(ia).toMatchObject({ mode: 'in-thread', workers: 0, arch: 'vit_fmnist_test', scheme: 'fp32', imgSize: 28, inChans: 1 });
    expect(ib).toMatchObject({ mode: 'worker', workers: 1, arch: 'vit_fmnist_test', wasm: ia.wasm });
    expect(['simd', 'relaxed']).toContain(ia.wasm);
    expect(ia.memoryBytes).toBeGreaterThan(MODEL.byteLength / 2);
  });

  test('inputs are transferred to the worker (detached here), or copied with transfer: false', async () => {
    const png = randomPng(41).slice(); // a view that owns its whole buffer
    await remote.classify(png);
    expect(png.byteLength).toBe(0); // handed over, not copied
    const keep = await createClassifier({ model: MODEL, ...W, transfer: false });
    try {
      const png2 = randomPng(41).slice();
      await keep.classify(png2);
      expect(png2.byteLength).toBeGreaterThan(0);
    } finally { await keep.dispose(); }
  });

  test('a bad image keeps its error code across the worker boundary', async () => {
    const bad = new Uint8Array([1, 2, 3, 4, 5]);
    expect(await codeOf(local.classify(bad.slice()))).toBe('E_IMAGE');
    expect(await codeOf(remote.classify(bad.slice()))).toBe('E_IMAGE');
    expect(await codeOf(remote.classify({ chw: new Float32Array(5) }))).toBe('E_INPUT');
    // and the worker is still fine afterwards
    expect((await remote.classify(randomPng(42))).top.length).toBe(5);
  });
});

describe('a pool of workers', () => {
  test('48 concurrent calls on 3 workers: every caller gets the answer for its own image', async () => {
    const local = await createClassifier({ model: MODEL });
    const pool = await createClassifier({ model: MODEL, ...W, workers: 3 });
    try {
      const seeds = Array.from({ length: 48 }, (_, i) => 100 + i);
      const want = await Promise.all(seeds.map((s) => local.classify(randomPng(s), { topK: 10, logits: true })));
      const got = await within(Promise.all(seeds.map((s) => pool.classify(randomPng(s), { topK: 10, logits: true }))), 60_000, '48 calls');
      expect(got.map(stable)).toEqual(want.map(stable));
      // the answers really differ per image, so a mix-up would be caught
      expect(new Set(want.map((r) => r.logits![0])).size).toBe(48);
      expect((await pool.info()).workers).toBe(3);
    } finally {
      await local.dispose();
      await pool.dispose();
    }
  });
});

describe('failure and recovery', () => {
  test('calls after dispose fail with E_DISPOSED in both modes; calls in flight at dispose settle', async () => {
    const local = await createClassifier({ model: MODEL });
    await local.dispose();
    expect(await codeOf(local.classify(randomPng(1)))).toBe('E_DISPOSED');
    expect(await codeOf(local.info())).toBe('E_DISPOSED');

    const remote = await createClassifier({ model: MODEL, ...W, workers: 2 });
    const inflight = Array.from({ length: 6 }, (_, i) => remote.classify(randomPng(200 + i)).then(() => 'ok', (e: VitguardError) => e.code));
    await remote.dispose();
    const outcomes = await within(Promise.all(inflight), 10_000, 'calls in flight at dispose');
    for (const o of outcomes) expect(['ok', 'E_DISPOSED']).toContain(o);
    expect(await codeOf(remote.classify(randomPng(1)))).toBe('E_DISPOSED');
    expect(await codeOf(remote.embed(randomPng(1)))).toBe('E_DISPOSED');
    await remote.dispose(); // twice is fine
  });

  test('a wasm trap in a worker: E_WASM, the worker is replaced, the next call answers as before', async () => {
    const remote = await createClassifier({ model: MODEL, ...W });
    const pool = (remote as unknown as { pool: { replacements: number } }).pool;
    try {
      const before = await remote.classify(randomPng(7), { logits: true });
      expect(await codeOf((remote as unknown as { _fault(k: string): Promise<null> })._fault('trap'))).toBe('E_WASM');
      expect(pool.replacements).toBe(1);
      const after = await within(remote.classify(randomPng(7), { logits: true }), 20_000, 'call after trap');
      expect(stable(after)).toEqual(stable(before));
    } finally { await remote.dispose(); }
  });

  test('a wasm trap in-thread: E_WASM, the instance is rebuilt, the next call answers as before', async () => {
    const local = await createClassifier({ model: MODEL });
    const hooks = local as unknown as { _run<T>(fn: () => T): Promise<T>; rebuilds: number };
    try {
      const before = await local.classify(randomPng(8), { logits: true });
      const trap = () => {
        // a real trap: a module whose function is `unreachable`
        const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 5, 1, 1, 102, 0, 0, 10, 5, 1, 3, 0, 0, 11]);
        (new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.f as () => void)();
      };
      expect(await codeOf(hooks._run(trap))).toBe('E_WASM');
      expect(hooks.rebuilds).toBe(1);
      const after = await local.classify(randomPng(8), { logits: true });
      expect(stable(after)).toEqual(stable(before));
    } finally { await local.dispose(); }
  });

  test('a worker that dies: every pending call on it rejects with E_WORKER, the pool replaces it and goes on', async () => {
    const remote = await createClassifier({ model: MODEL, ...W, workers: 2 });
    const pool = (remote as unknown as { pool: { replacements: number; alive: number; terminateWorker(i: number): Promise<void> } }).pool;
    try {
      // a crash from inside (process.exit in the worker)
      expect(await codeOf((remote as unknown as { _fault(k: string): Promise<null> })._fault('exit'))).toBe('E_WORKER');
      expect(pool.replacements).toBe(1);
      // killed from outside while calls are queued on it: they settle (answered or E_WORKER), none hangs
      const calls = Array.from({ length: 8 }, (_, i) => remote.classify(randomPng(300 + i)).then(() => 'ok', (e: VitguardError) => e.code));
      await pool.terminateWorker(0);
      const outcomes = await within(Promise.all(calls), 20_000, 'calls on a killed worker');
      for (const o of outcomes) expect(['ok', 'E_WORKER']).toContain(o);
      expect(outcomes).toContain('E_WORKER');
      expect(pool.replacements).toBe(2);
      // the pool is whole again and answers correctly
      const local = await createClassifier({ model: MODEL });
      const want = await Promise.all([1, 2, 3, 4].map((s) => local.classify(randomPng(s), { logits: true })));
      const got = await within(Promise.all([1, 2, 3, 4].map((s) => remote.classify(randomPng(s), { logits: true }))), 20_000, 'calls after recovery');
      expect(got.map(stable)).toEqual(want.map(stable));
      expect(pool.alive).toBe(2);
      await local.dispose();
    } finally { await remote.dispose(); }
  });

  test('a hung worker: the call fails with E_WORKER after timeoutMs and the worker is replaced', async () => {
    const remote = await createClassifier({ model: MODEL, ...W, timeoutMs: 1500 });
    const pool = (remote as unknown as { pool: { replacements: number } }).pool;
    try {
      const t0 = Date.now();
      expect(await codeOf((remote as unknown as { _fault(k: string, ms: number): Promise<null> })._fault('hang', 60_000))).toBe('E_WORKER');
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(pool.replacements).toBe(1);
      expect((await within(remote.classify(randomPng(9)), 20_000, 'call after hang')).top).toHaveLength(5);
    } finally { await remote.dispose(); }
  });

  test('a worker entry that cannot load fails createClassifier with E_WORKER, not a hang', async () => {
    const missing = new URL('./no-such-worker.mjs', import.meta.url);
    expect(await codeOf(createClassifier({ model: MODEL, ...W, workerUrl: missing }))).toBe('E_WORKER');
  });
});

describe('model sources and options', () => {
  test('a file path and a file: URL load the same model as the bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitguard-api-'));
    const path = join(dir, 'm.safetensors');
    writeFileSync(path, MODEL);
    const png = randomPng(5);
    const ref = await createClassifier({ model: MODEL });
    const byPath = await createClassifier({ model: path });
    const byUrl = await createClassifier({ model: pathToFileURL(path) });
    try {
      const want = stable(await ref.classify(png.slice(), { logits: true }));
      expect(stable(await byPath.classify(png.slice(), { logits: true }))).toEqual(want);
      expect(stable(await byUrl.classify(png.slice(), { logits: true }))).toEqual(want);
    } finally { await ref.dispose(); await byPath.dispose(); await byUrl.dispose(); }
    expect(await codeOf(createClassifier({ model: join(dir, 'absent.safetensors') }))).toBe('E_INPUT');
  });

  test('bad options are E_INPUT', async () => {
    expect(await codeOf(createClassifier({ model: MODEL, workers: 2 }))).toBe('E_INPUT');
    expect(await codeOf(createClassifier({ model: MODEL, wasm: 'fast' as never }))).toBe('E_INPUT');
    expect(await codeOf(createClassifier({ model: MODEL, ...W, workers: 0 }))).toBe('E_INPUT');
    expect(await codeOf(createClassifier(undefined as never))).toBe('E_INPUT');
  });
});
