// createClassifier({ threads }): in this thread and in workers (each worker runs its own threads, nested
// worker_threads), info() says how many were asked for and run, and the answers are those of one thread.

import { describe, expect, it } from 'vitest';
import { createClassifier } from '../../sdk/index.js';
import { liveThreadWorkers } from '../../sdk/engine/threads.js';
import { randomPng, smallModel, WASM_BASE } from './fixtures.js';
import { workerMode } from './worker-build.js';

const W = workerMode();
const MODEL = smallModel(7);
/** Results without their timings. */
const answers = (rs: Array<{ timings?: unknown }>) => rs.map(({ timings: _, ...r }) => r);

describe('threads through createClassifier', () => {
  it('in this thread and in workers: info().threads, the same answers as one thread, no thread left after dispose', async () => {
    const images = [randomPng(1), randomPng(2), randomPng(3)];
    const one = await createClassifier({ model: MODEL, wasm: 'simd', maxBatch: 3 });
    const want = answers(await one.classifyBatch(images, { topK: 10 }));
    expect((await one.info()).threads).toEqual({ requested: 1, used: 1 });
    await one.dispose();

    const local = await createClassifier({ model: MODEL, wasm: 'simd', maxBatch: 3, threads: 2 });
    expect((await local.info()).threads).toEqual({ requested: 2, used: 2 });
    expect(liveThreadWorkers()).toBe(1);
    expect(answers(await local.classifyBatch(images, { topK: 10 }))).toEqual(want);
    await local.dispose();

    const remote = await createClassifier({ model: MODEL, ...W, wasm: 'simd', maxBatch: 3, threads: 3, workers: 2 });
    const info = await remote.info();
    expect(info).toMatchObject({ mode: 'worker', workers: 2, threads: { requested: 3, used: 3 } });
    expect(answers(await remote.classifyBatch(images, { topK: 10 }))).toEqual(want);
    await remote.dispose();

    for (let i = 0; i < 500 && liveThreadWorkers() > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(liveThreadWorkers()).toBe(0);
  });

  it('a wasm source without the threaded binaries: one thread, and info() says why', async () => {
    const base = WASM_BASE.href;
    const c = await createClassifier({ model: MODEL, wasm: 'simd', threads: 2, wasmSource: { simd: new URL('vitguard.simd.wasm', base) } });
    expect((await c.info()).threads).toEqual({ requested: 2, used: 1, reason: "wasmSource has no 'simd-mt' binary (the threaded build)" });
    await c.dispose();
    await expect(createClassifier({ model: MODEL, threads: 65 })).rejects.toMatchObject({ code: 'E_INPUT' });
  });
});
