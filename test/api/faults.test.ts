// Faults while work is under way, in both modes: a worker killed in the middle of a call, a wasm trap inside the
// forward pass, a model download cut off half-way, dispose() while calls run, many more calls than workers with
// faults among them. For each: every call settles (its answer or a typed VitguardError) within a bound, the next
// call answers exactly what a fresh classifier answers, and nothing is left half-built (the pool has all its workers,
// no worker threads outlive a failed or disposed classifier). api.test.ts covers the single faults one at a time.

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { createClassifier, VitguardError, type ClassifyResult, type VitguardClassifier } from '../../sdk/index.js';
import type { Classifier } from '../../sdk/classifier.js';
import { randomPng, smallModel, within } from './fixtures.js';
import { workerMode } from './worker-build.js';

const MODEL = smallModel(3);

/** Options for worker mode: the entry transpiled from the sources, the wasm from build/. */
const W = workerMode();

/** 'ok' or the VitguardError code; anything else thrown fails the test. */
const outcome = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => {
  if (e instanceof VitguardError) return e.code;
  throw e;
});

const stable = (r: ClassifyResult) => ({ top: r.top, ood: r.ood, logits: r.logits ? Array.from(r.logits) : undefined });

type Pool = { replacements: number; alive: number; size: number; terminateWorker(i: number): Promise<void> };
const poolOf = (vg: VitguardClassifier) => (vg as unknown as { pool: Pool }).pool;
const fault = (vg: VitguardClassifier, kind: 'trap' | 'exit' | 'hang', ms?: number) => (vg as unknown as { _fault(k: string, ms?: number): Promise<null> })._fault(kind, ms);

/** Threads of this process (worker_threads are OS threads): a worker that outlives its classifier shows here. */
function threads(): number {
  return Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN);
}

/** Wait until the thread count comes back to `n` (a terminated worker's thread ends a little after terminate()). */
async function threadsBackTo(n: number, ms = 5000): Promise<number> {
  const end = Date.now() + ms;
  while (threads() > n && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return threads();
}

/** What a fresh in-thread classifier answers for these seeds: the reference every recovered classifier must match. */
async function reference(seeds: number[]): Promise<ReturnType<typeof stable>[]> {
  const fresh = await createClassifier({ model: MODEL });
  try {
    return (await Promise.all(seeds.map((s) => fresh.classify(randomPng(s), { logits: true })))).map(stable);
  } finally { await fresh.dispose(); }
}

describe('a worker killed in the middle of a call', () => {
  test('the running call and the calls queued behind it settle E_WORKER; the pool replaces the worker and answers right', async () => {
    const vg = await createClassifier({ model: MODEL, ...W, workers: 2 });
    const pool = poolOf(vg);
    try {
      // worker 0 is busy inside a call (a 10 s hang) when it is killed; more calls wait on both workers
      const running = outcome(fault(vg, 'hang', 10_000));
      await new Promise((r) => setTimeout(r, 200));
      const queued = Array.from({ length: 6 }, (_, i) => outcome(vg.classify(randomPng(400 + i))));
      const t0 = Date.now();
      await pool.terminateWorker(0);
      const got = await within(Promise.all([running, ...queued]), 15_000, 'calls on a killed worker');
      expect(got[0]).toBe('E_WORKER');
      expect(Date.now() - t0).toBeLessThan(5000); // not after the hang: the death is noticed at once
      for (const o of got.slice(1)) expect(['ok', 'E_WORKER']).toContain(o);
      expect(pool.replacements).toBe(1);
      const seeds = [1, 2, 3, 4, 5, 6];
      const after = await within(Promise.all(seeds.map((s) => vg.classify(randomPng(s), { logits: true }))), 20_000, 'calls after the kill');
      expect(after.map(stable)).toEqual(await reference(seeds));
      expect(pool.alive).toBe(2);
    } finally { await vg.dispose(); }
  });
});

describe('a wasm trap inside the forward pass', () => {
  test('in-thread: an out-of-bounds access in a kernel is E_WASM, the instance is rebuilt, the next calls answer right', async () => {
    const vg = await createClassifier({ model: MODEL });
    const hooks = vg as unknown as { _run<T>(fn: (c: Classifier) => T): Promise<T> };
    try {
      const before = stable(await vg.classify(randomPng(50), { logits: true }));
      // point the residual stream past the end of linear memory: the first kernel that touches it traps for real
      const poisoned = outcome(hooks._run((c) => {
        const st = (c.engine as unknown as { state: { arena: { x: number } } }).state;
        st.arena.x = 0x7fff0000;
        return c.classify(randomPng(50));
      }));
      expect(await poisoned).toBe('E_WASM');
      expect(stable(await vg.classify(randomPng(50), { logits: true }))).toEqual(before);
      expect((await vg.info()).memoryBytes).toBeGreaterThan(0);
      // and again: a second trap is recovered the same way
      expect(await outcome(hooks._run((c) => {
        (c.engine as unknown as { state: { arena: { qkv: number } } }).state.arena.qkv = 0x7fff0000;
        return c.classify(randomPng(51));
      }))).toBe('E_WASM');
      expect(stable(await vg.classify(randomPng(50), { logits: true }))).toEqual(before);
    } finally { await vg.dispose(); }
  });

  test('worker: a trap among 24 concurrent calls fails only its own call; the worker is replaced; the rest answer right', async () => {
    const vg = await createClassifier({ model: MODEL, ...W, workers: 2 });
    const pool = poolOf(vg);
    try {
      const seeds = Array.from({ length: 24 }, (_, i) => 500 + i);
      const want = await reference(seeds);
      const calls = seeds.map((s) => vg.classify(randomPng(s), { logits: true }).then(stable, (e: VitguardError) => e.code));
      const trap = outcome(fault(vg, 'trap'));
      const got = await within(Promise.all(calls), 30_000, '24 calls and a trap');
      expect(await trap).toBe('E_WASM');
      got.forEach((g, i) => {
        // a call that shared the trapped worker may be cut off with it; every answer given is the right one
        if (typeof g === 'string') expect(['E_WORKER', 'E_WASM']).toContain(g);
        else expect(g).toEqual(want[i]);
      });
      expect(got.filter((g) => typeof g !== 'string').length).toBeGreaterThanOrEqual(12);
      expect(pool.replacements).toBe(1);
      const again = await within(Promise.all(seeds.slice(0, 4).map((s) => vg.classify(randomPng(s), { logits: true }))), 20_000, 'after the trap');
      expect(again.map(stable)).toEqual(want.slice(0, 4));
      expect(pool.alive).toBe(2);
    } finally { await vg.dispose(); }
  });
});

describe('a model download cut off half-way', () => {
  let server: Server;
  let base = '';
  let mode: 'cut' | 'whole' = 'cut';
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(MODEL.length) });
      if (mode === 'whole') { res.end(Buffer.from(MODEL)); return; }
      // half the body, then the connection dies (no clean end: the socket is destroyed)
      res.write(Buffer.from(MODEL.subarray(0, MODEL.length >> 1)), () => setTimeout(() => req.socket.destroy(), 20));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  for (const worker of [false, true]) {
    test(`${worker ? 'worker' : 'in-thread'}: a typed error, no worker left behind, and the next createClassifier works`, async () => {
      const opts = worker ? { ...W, workers: 2 } : {};
      const before = await threadsBackTo(threads());
      mode = 'cut';
      const code = await within(outcome(createClassifier({ model: `${base}/m.safetensors`, ...opts })), 15_000, 'a cut-off download');
      expect(['E_TRUNCATED', 'E_FETCH']).toContain(code);
      expect(await threadsBackTo(before)).toBe(before); // no worker was started for a model that never arrived
      mode = 'whole';
      const vg = await createClassifier({ model: `${base}/m.safetensors`, ...opts });
      try {
        expect(stable(await vg.classify(randomPng(60), { logits: true }))).toEqual((await reference([60]))[0]);
      } finally { await vg.dispose(); }
    });
  }
});

describe('dispose() while calls run', () => {
  test('in-thread: every call settles (answer or E_DISPOSED), later calls are E_DISPOSED, dispose twice is fine', async () => {
    const vg = await createClassifier({ model: MODEL });
    // Blobs make each call wait a turn (arrayBuffer()) before it reaches the model: dispose lands among them
    const calls = Array.from({ length: 20 }, (_, i) => outcome(vg.classify(new Blob([randomPng(600 + i) as Uint8Array<ArrayBuffer>]))));
    const disposing = vg.dispose();
    const got = await within(Promise.all(calls), 10_000, 'in-thread calls at dispose');
    await disposing;
    for (const o of got) expect(['ok', 'E_DISPOSED']).toContain(o);
    expect(got).toContain('E_DISPOSED');
    expect(await outcome(vg.classify(randomPng(1)))).toBe('E_DISPOSED');
    await vg.dispose();
  });

  test('worker: a call stuck inside a worker is cut short by dispose(); every worker thread ends', async () => {
    const before = await threadsBackTo(threads());
    const vg = await createClassifier({ model: MODEL, ...W, workers: 2 });
    expect(threads()).toBeGreaterThan(before);
    const stuck = outcome(fault(vg, 'hang', 20_000));
    const calls = Array.from({ length: 10 }, (_, i) => outcome(vg.classify(randomPng(700 + i))));
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await within(vg.dispose(), 5000, 'dispose with a stuck worker');
    const got = await within(Promise.all([stuck, ...calls]), 5000, 'calls at dispose');
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(got[0]).toBe('E_DISPOSED');
    for (const o of got) expect(['ok', 'E_DISPOSED']).toContain(o);
    expect(await threadsBackTo(before)).toBe(before);
  });

  test('a classifier whose workers fail to load the model leaves no thread behind', async () => {
    const before = await threadsBackTo(threads());
    const bad = MODEL.slice();
    bad[20] ^= 0xff; // header JSON no longer parses
    expect(await outcome(createClassifier({ model: bad, ...W, workers: 3 }))).toBe('E_FILE_HEADER');
    expect(await threadsBackTo(before)).toBe(before);
  });
});

describe('more concurrent calls than workers, with faults among them', () => {
  test('64 calls on 2 workers while one worker exits and another traps: all settle, answers right, pool whole', async () => {
    const vg = await createClassifier({ model: MODEL, ...W, workers: 2 });
    const pool = poolOf(vg);
    try {
      const seeds = Array.from({ length: 64 }, (_, i) => 800 + i);
      const want = await reference(seeds);
      // the faults go in once work is flowing: a worker exits at the 8th answer, one traps at the 24th
      let settled = 0;
      const faults: Promise<string>[] = [];
      const calls = seeds.map((s) => vg.classify(randomPng(s), { logits: true }).then(stable, (e: VitguardError) => e.code).finally(() => {
        settled++;
        if (settled === 8) faults.push(outcome(fault(vg, 'exit')));
        if (settled === 24) faults.push(outcome(fault(vg, 'trap')));
      }));
      const got = await within(Promise.all(calls), 60_000, '64 calls with faults');
      const [exited, trapped] = await within(Promise.all(faults), 20_000, 'the faults');
      expect(exited).toBe('E_WORKER');
      // the trap runs (E_WASM), unless it was queued behind the exit on the same worker and died with it (E_WORKER)
      expect(['E_WASM', 'E_WORKER']).toContain(trapped);
      let answered = 0;
      got.forEach((g, i) => {
        if (typeof g === 'string') expect(['E_WORKER', 'E_WASM']).toContain(g);
        else { expect(g).toEqual(want[i]); answered++; }
      });
      expect(answered).toBeGreaterThanOrEqual(24);
      expect(pool.replacements).toBe(trapped === 'E_WASM' ? 2 : 1);
      const again = await within(Promise.all(seeds.slice(0, 8).map((s) => vg.classify(randomPng(s), { logits: true }))), 20_000, 'after the faults');
      expect(again.map(stable)).toEqual(want.slice(0, 8));
      expect(pool.alive).toBe(2);
    } finally { await vg.dispose(); }
  });
});
