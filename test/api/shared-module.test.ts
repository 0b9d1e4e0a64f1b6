// The worker pool compiles the kernel binary once, in this thread, and posts the WebAssembly.Module to every worker
// (sdk/worker/pool.ts withCompiledWasm): three workers and a replacement fetch the wasm once between them, answer
// what an in-thread classifier answers, and a broken wasm source still fails as a typed error from the worker.

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClassifier, VitguardError } from '../../sdk/index.js';
import { withCompiledWasm } from '../../sdk/worker/pool.js';
import { randomPng, smallModel, WASM_BASE, within } from './fixtures.js';
import { workerMode } from './worker-build.js';

const MODEL = smallModel(7);
const W = workerMode();
let server: Server;
let base = '';
const served: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    served.push(req.url ?? '');
    const wasm = /^\/wasm\/(vitguard\.(simd|relaxed)\.wasm)$/.exec(req.url ?? '');
    if (wasm) { res.writeHead(200, { 'content-type': 'application/wasm' }); res.end(readFileSync(join(WASM_BASE.pathname, wasm[1]))); return; }
    if (req.url === '/bad/vitguard.simd.wasm') { res.writeHead(200, { 'content-type': 'application/wasm' }); res.end(Buffer.from('not wasm')); return; }
    res.writeHead(404); res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

type Pool = { replacements: number; alive: number; terminateWorker(i: number): Promise<void>; opts: { init: { wasm: string; wasmSource?: Record<string, unknown> } } };
const poolOf = (vg: unknown) => (vg as { pool: Pool }).pool;

describe('one compiled module for the whole pool', () => {
  test('3 workers and a replacement: the wasm is fetched once, every worker answers as in-thread', async () => {
    served.length = 0;
    const vg = await createClassifier({ model: MODEL, worker: true, workerUrl: W.workerUrl, workers: 3, wasm: 'simd', wasmBase: `${base}/wasm/` });
    const pool = poolOf(vg);
    try {
      expect(served).toEqual(['/wasm/vitguard.simd.wasm']);
      expect(pool.opts.init.wasm).toBe('simd');
      expect(pool.opts.init.wasmSource?.simd).toBeInstanceOf(WebAssembly.Module);
      const ref = await createClassifier({ model: MODEL, wasm: 'simd' });
      const seeds = [1, 2, 3, 4, 5, 6];
      const want = await Promise.all(seeds.map((s) => ref.classify(randomPng(s), { logits: true })));
      await ref.dispose();
      // six calls in flight reach all three workers
      const got = await within(Promise.all(seeds.map((s) => vg.classify(randomPng(s), { logits: true }))), 20_000, 'six calls');
      got.forEach((g, i) => expect(Array.from(g.logits!)).toEqual(Array.from(want[i].logits!)));
      await pool.terminateWorker(1);
      const after = await within(Promise.all(seeds.map((s) => vg.classify(randomPng(s), { logits: true }))), 20_000, 'calls after a replacement');
      after.forEach((g, i) => expect(Array.from(g.logits!)).toEqual(Array.from(want[i].logits!)));
      expect(pool.replacements).toBe(1);
      expect(served).toEqual(['/wasm/vitguard.simd.wasm']); // the replacement got the module too
    } finally { await vg.dispose(); }
  });

  test("'auto' is resolved here, and a given Module passes through untouched", async () => {
    const module = await WebAssembly.compile(readFileSync(join(WASM_BASE.pathname, 'vitguard.simd.wasm')));
    const init = await withCompiledWasm({ model: MODEL, wasm: 'simd', wasmSource: { simd: module } });
    expect(init.wasmSource?.simd).toBe(module);
    const auto = await withCompiledWasm({ model: MODEL, wasm: 'auto' });
    expect(['simd', 'relaxed']).toContain(auto.wasm);
    expect(auto.wasmSource?.[auto.wasm as 'simd' | 'relaxed']).toBeInstanceOf(WebAssembly.Module);
  });

  test('a wasm source that does not compile: the init goes as it came and the worker answers E_WASM', async () => {
    const init = { model: MODEL, wasm: 'simd' as const, wasmSource: { simd: `${base}/bad/vitguard.simd.wasm` } };
    expect(await withCompiledWasm(init)).toBe(init);
    const e = await createClassifier({ model: MODEL, worker: true, workerUrl: W.workerUrl, wasm: 'simd', wasmSource: { simd: new URL(`${base}/bad/vitguard.simd.wasm`) } })
      .then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(VitguardError);
    expect((e as VitguardError).code).toBe('E_WASM');
  });
});
