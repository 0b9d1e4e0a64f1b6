// Threads (sdk/engine/threads.ts): the same bits on 1, 2 and 3 threads for every scheme, batch > 1 and every per-layer
// output; the fallback to one thread where threads cannot run, with the reason; a trap inside a pool worker; and no
// worker left behind after dispose. The simd build here (vitest's Node has no relaxed-SIMD flag); the relaxed-mt
// binary is checked the same way in a child process with the flags (threads-child.ts).

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine, type ForwardResult } from '../../sdk/engine/index.js';
import { callKernel, splitRows, type Executor, type Region } from '../../sdk/engine/program.js';
import type { Kernels } from '../../sdk/engine/wasm.js';
import { liveThreadWorkers, perThread, type ThreadPool } from '../../sdk/engine/threads.js';
import { VitguardError } from '../../sdk/errors.js';
import '../../sdk/quant/index.js';
import { randomModel, TINY } from './models.js';
import { THREAD_SCHEMES, threadModel, threadImages } from './threads-models.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const N = 3; // images per forward (maxBatch)

type Internals = { pool: ThreadPool | null; state: { arena: { scratchBytes: number }; exec: Executor; inst: { kernels: Kernels } } | null };

/**
 * Runs each region's per-thread call lists on this thread, one call of each thread in turn, thread t `skew·t` calls
 * behind thread 0: a fixed interleaving in which one thread is still on one layer while the next is on a later one —
 * scratch that two threads share by mistake shows up as different bits, deterministically.
 */
class SkewExecutor implements Executor {
  constructor(private readonly k: Kernels, readonly threads: number, private readonly skew: number) {}
  run(region: Region): void {
    const lists = region.serial ? [perThread(region, 1)[0]] : perThread(region, this.threads);
    const longest = Math.max(...lists.map((l, t) => l.length + t * this.skew));
    for (let s = 0; s < longest; s++) {
      lists.forEach((l, t) => { const i = s - t * this.skew; if (i >= 0 && i < l.length) callKernel(this.k, l[i]); });
    }
  }
}
const internals = (e: Engine) => e as unknown as Internals;

/** Bit patterns of everything a forward returns, in a fixed order. */
function bits(results: ForwardResult[]): Uint32Array[] {
  const out: Uint32Array[] = [];
  for (const r of results) {
    out.push(new Uint32Array(r.logits.slice().buffer), new Uint32Array(r.feature.slice().buffer));
    for (const list of [r.attention, r.tokenNorms, r.hidden]) for (const a of list ?? []) out.push(new Uint32Array(a.slice().buffer));
  }
  return out;
}

function expectSameBits(a: Uint32Array[], b: Uint32Array[], what: string): void {
  expect(b.length, what).toBe(a.length);
  let differ = 0;
  a.forEach((x, i) => { for (let j = 0; j < x.length; j++) if (x[j] !== b[i][j]) differ++; });
  expect(differ, `${what}: values that differ`).toBe(0);
}

async function waitForWorkers(n: number, ms = 10_000): Promise<number> {
  const t0 = Date.now();
  while (liveThreadWorkers() !== n && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 10));
  return liveThreadWorkers();
}

const engines: Engine[] = [];
async function engine(model: Uint8Array, threads: number, extra: object = {}): Promise<Engine> {
  const e = await Engine.create(model, { wasm: 'simd', maxBatch: N, threads, ...extra });
  engines.push(e);
  return e;
}
afterEach(() => { for (const e of engines.splice(0)) e.dispose(); });

describe('threads', () => {
  it('the -mt binaries import one shared memory; no kernel keeps static scratch that threads would race on', () => {
    // import "env" "memory", kind memory (2), limits flags 3 (shared, with a maximum): read from the bytes, as this
    // Node cannot compile the relaxed binary
    const sharedImport = Buffer.from([3, ...Buffer.from('env'), 6, ...Buffer.from('memory'), 2, 3]);
    for (const b of ['simd-mt', 'relaxed-mt']) expect(readFileSync(`${ROOT}build/vitguard.${b}.wasm`).includes(sharedImport), b).toBe(true);
    for (const b of ['simd', 'relaxed']) expect(readFileSync(`${ROOT}build/vitguard.${b}.wasm`).includes(sharedImport), b).toBe(false);
    // `memory.data(<bytes>)` is zeroed static memory: every thread's instance would write the same bytes
    for (const f of readdirSync(`${ROOT}assembly`).filter((f) => f.endsWith('.ts'))) {
      expect(readFileSync(`${ROOT}assembly/${f}`, 'utf8'), `assembly/${f}`).not.toMatch(/memory\.data\(\s*\d/);
    }
  });

  it('splits rows at multiples of the 4-row tile and items in contiguous blocks, each exactly once', () => {
    for (const [R, n] of [[51, 2], [51, 3], [197, 2], [3, 2], [1, 3], [8, 3]]) {
      const seen = new Array<number>(R).fill(0);
      const lists = perThread({ rows: R, steps: [(r0, r1, t) => [{ op: 'gelu', fn: 'gelu', args: [r0, r1, t] }]] }, n);
      expect(lists.length).toBe(n);
      lists.forEach((l, t) => l.forEach((c) => {
        const [r0, r1, tt] = c.args;
        expect(tt).toBe(t);
        if (r1 < R) expect(r1 % 4).toBe(0);
        for (let r = r0; r < r1; r++) seen[r]++;
      }));
      expect(seen.every((s) => s === 1), `rows ${R} on ${n}`).toBe(true);
      expect(splitRows(R, n).length).toBeLessThanOrEqual(n);
    }
    const items = perThread({ items: 12, step: (i, t) => [{ op: 'attn_qk', fn: 'x', args: [i, t] }] }, 3);
    expect(items.map((l) => l.map((c) => c.args[0]))).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]);
    expect(items.map((l) => l.map((c) => c.args[1]))).toEqual([[0, 0, 0, 0], [1, 1, 1, 1], [2, 2, 2, 2]]);
  });

  for (const scheme of THREAD_SCHEMES) {
    it(`${scheme}: 1, 2 and 3 threads give the same bits (batch ${N}: logits, features, attention, token norms, hidden states)`, async () => {
      const model = await threadModel(scheme);
      const x = threadImages(N + 1);
      const one = await engine(model, 1);
      const want = bits(one.forwardBatch(x, N + 1, { attention: true, tokenNorms: true, hidden: true }));
      const xN = x.subarray(0, N * 3 * 32 * 32);
      const wantPlain = bits(one.forwardBatch(xN, N));
      for (const threads of [2, 3]) {
        const e = await engine(model, threads);
        expect(e.threads).toEqual({ requested: threads, used: threads });
        const pool = internals(e).pool!;
        expectSameBits(want, bits(e.forwardBatch(x, N + 1, { attention: true, tokenNorms: true, hidden: true })), `${scheme} ${threads} threads, per-layer outputs`);
        const split = pool.dispatched;
        expect(split, 'regions that ran on the workers').toBeGreaterThan(0);
        expectSameBits(wantPlain, bits(e.forwardBatch(xN, N)), `${scheme} ${threads} threads`);
        expect(pool.dispatched).toBeGreaterThan(split);
      }
    });
  }

  it('a 3-head model on 2 threads splits each head into query-row blocks (3 items each, not 2 and 1): the same bits', async () => {
    const { bytes } = randomModel(TINY.vit, 4); // 3 heads, T = 17
    const x = new Float32Array(2 * 3 * 32 * 32).map((_, i) => Math.sin(i * 0.37));
    const want = bits((await engine(bytes, 1)).forwardBatch(x, 2, { attention: true }));
    const wantPlain = bits((await engine(bytes, 1)).forwardBatch(x, 2));
    const e = await engine(bytes, 2);
    const st = internals(e).state!;
    const real = st.exec, fns = new Set<string>(), items: number[] = [];
    st.exec = { threads: real.threads, run(r: Region) {
      if ('items' in r) items.push(r.items);
      for (const l of perThread(r, real.threads)) for (const c of l) fns.add(c.fn);
      real.run(r);
    } };
    expectSameBits(want, bits(e.forwardBatch(x, 2, { attention: true })), '3 heads on 2 threads, probabilities');
    expectSameBits(wantPlain, bits(e.forwardBatch(x, 2)), '3 heads on 2 threads');
    expect([...fns].filter((f) => f.startsWith('attention_'))).toEqual(expect.arrayContaining(['attention_scores_rows', 'attention_softmax_rows', 'attention_pv_rows', 'attention_probs_rows']));
    expect(items).toContain(3 * 2); // one image's heads × 2 blocks
    expect(items).toContain(2 * 3 * 2); // two images
  });

  it('no two threads share scratch: every scheme gives the same bits when threads run skewed by 1..6 calls', async () => {
    for (const scheme of THREAD_SCHEMES) {
      const model = await threadModel(scheme);
      const x = threadImages(N);
      const want = bits((await engine(model, 1)).forwardBatch(x, N, { attention: true }));
      const e = await engine(model, 3); // scratch laid for 3 threads
      const st = internals(e).state!;
      for (let skew = 1; skew <= 6; skew++) {
        st.exec = new SkewExecutor(st.inst.kernels, 3, skew);
        expectSameBits(want, bits(e.forwardBatch(x, N, { attention: true })), `${scheme}, skew ${skew}`);
      }
    }
  });

  it('falls back to one thread where shared memory, cross-origin isolation or the threaded binary is missing, and says why', async () => {
    const model = await threadModel('w8a8');
    const x = threadImages(2);
    const want = bits((await engine(model, 1)).forwardBatch(x, 2));
    const g = globalThis as { crossOriginIsolated?: boolean };
    const Memory = WebAssembly.Memory;
    try {
      // a runtime without shared memory
      (WebAssembly as { Memory: unknown }).Memory = function (d: WebAssembly.MemoryDescriptor) {
        if (d.shared) throw new TypeError('shared memory is not enabled');
        return new Memory(d);
      };
      const e = await engine(model, 2);
      expect(e.threads).toMatchObject({ requested: 2, used: 1, reason: expect.stringMatching(/no SharedArrayBuffer \/ shared WebAssembly.Memory.*not enabled/) });
      (WebAssembly as { Memory: unknown }).Memory = Memory;
      expectSameBits(want, bits(e.forwardBatch(x, 2)), 'no shared memory');
      // shared memory, but not as large as maxMemoryBytes asks (a 32-bit browser's address space)
      (WebAssembly as { Memory: unknown }).Memory = function (d: WebAssembly.MemoryDescriptor) {
        if (d.shared && (d.maximum ?? 0) > 1024) throw new RangeError('could not allocate memory');
        return new Memory(d);
      };
      const big = await engine(model, 2);
      (WebAssembly as { Memory: unknown }).Memory = Memory;
      expect(big.threads).toMatchObject({ requested: 2, used: 1, reason: expect.stringMatching(/threads could not start: cannot make a shared wasm memory.*could not allocate/) });
      expectSameBits(want, bits(big.forwardBatch(x, 2)), 'no large shared memory');
      g.crossOriginIsolated = false; // a page served without COOP/COEP
      expect((await engine(model, 4)).threads).toMatchObject({ requested: 4, used: 1, reason: expect.stringMatching(/not cross-origin isolated.*Cross-Origin-Opener-Policy: same-origin.*Cross-Origin-Embedder-Policy: require-corp/) });
    } finally {
      (WebAssembly as { Memory: unknown }).Memory = Memory;
      delete g.crossOriginIsolated;
    }
    const bytes = readFileSync(`${ROOT}build/vitguard.simd.wasm`);
    const e = await engine(model, 2, { wasmSource: { simd: bytes } });
    expect(e.threads).toMatchObject({ requested: 2, used: 1, reason: expect.stringMatching(/no 'simd-mt' binary/) });
    expectSameBits(want, bits(e.forwardBatch(x, 2)), 'no threaded binary');
    expect(await waitForWorkers(0)).toBe(0);
    await expect(Engine.create(model, { threads: 0 })).rejects.toMatchObject({ code: 'E_INPUT' });
    await expect(Engine.create(model, { threads: 1.5 })).rejects.toMatchObject({ code: 'E_INPUT' });
  });

  it('a trap inside a pool worker is E_WASM on the call; the engine rebuilds, runs alone until its workers are back, then threaded again', async () => {
    const model = await threadModel('w8a8');
    const x = threadImages(2);
    const want = bits((await engine(model, 1)).forwardBatch(x, 2));
    const e = await engine(model, 2);
    const pool = internals(e).pool!;
    // thread 1's attention scratch far outside memory: only the worker's share of the heads traps
    internals(e).state!.arena.scratchBytes = 2 ** 31;
    let err: unknown;
    try { e.forwardBatch(x, 2); } catch (caught) { err = caught; }
    expect(err).toBeInstanceOf(VitguardError);
    expect(err).toMatchObject({ code: 'E_WASM', message: expect.stringMatching(/wasm trapped.*in thread 1: RuntimeError: memory access out of bounds/) });
    // the rebuilt instance is on a fresh memory: the first call runs on this thread while the worker re-instantiates
    const before = pool.dispatched;
    expectSameBits(want, bits(e.forwardBatch(x, 2)), 'after the trap');
    await pool.ready();
    expectSameBits(want, bits(e.forwardBatch(x, 2)), 'threaded again');
    expect(pool.dispatched).toBeGreaterThan(before);
    expect(liveThreadWorkers()).toBe(1);
  });

  it('a pool that stops (a worker died) leaves the engine on one thread, info saying so, with the same bits', async () => {
    const model = await threadModel('w8a8');
    const x = threadImages(2);
    const want = bits((await engine(model, 1)).forwardBatch(x, 2));
    const e = await engine(model, 2);
    const pool = internals(e).pool!;
    (pool as unknown as { fail(why: string): void }).fail('thread pool worker 1 ended: exited with code 1');
    expect(e.threads).toEqual({ requested: 2, used: 1, reason: 'the thread pool stopped: thread pool worker 1 ended: exited with code 1' });
    const before = pool.dispatched;
    expectSameBits(want, bits(e.forwardBatch(x, 2)), 'after the pool stopped');
    expect(pool.dispatched).toBe(before);
  });

  it('50 threaded engines created and disposed leave no worker behind', async () => {
    const model = await threadModel('fp32');
    const x = threadImages(1);
    for (let i = 0; i < 50; i++) {
      const e = await Engine.create(model, { wasm: 'simd', threads: 2 });
      expect(liveThreadWorkers()).toBeGreaterThanOrEqual(1);
      if (i % 10 === 0) e.forward(x);
      e.dispose();
      expect(() => e.forward(x)).toThrow(expect.objectContaining({ code: 'E_DISPOSED' }));
    }
    expect(await waitForWorkers(0)).toBe(0);
  });

  it('the relaxed-mt binary gives the same bits on 1 and 2 threads (child process with the relaxed-SIMD flags)', () => {
    const out = execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--no-liftoff', '--import', './test/parity/ts-register.mjs', 'test/engine/threads-child.ts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    const r = JSON.parse(out.trim().split('\n').pop()!) as Record<string, { digests: string[]; threads: unknown; dispatched: number }>;
    for (const scheme of ['fp32', 'w8a8', 'w4a8']) {
      expect(r[`${scheme} 2`].threads, scheme).toEqual({ requested: 2, used: 2 });
      expect(r[`${scheme} 2`].dispatched, scheme).toBeGreaterThan(0);
      expect(r[`${scheme} 2`].digests, scheme).toEqual(r[`${scheme} 1`].digests);
    }
  });
});
