// The model is held once: in the engine's wasm memory. Engine.create({ keepModel: false }) lets the file's tensors go
// (and says after a trap that it needs a new engine); the in-thread classifier keeps the bytes only until it can have
// them again (a path or URL, checked against the SHA-256 of the first load; a Blob), and a trap still rebuilds it with
// the same answers; a worker keeps no copy and is replaced by its pool after a trap in its engine.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { createClassifier, VitguardError, type ClassifyResult, type VitguardClassifier } from '../../sdk/index.js';
import { Engine } from '../../sdk/engine/index.js';
import type { Classifier } from '../../sdk/classifier.js';
import { randomPng, smallModel, within } from './fixtures.js';
import { workerMode } from './worker-build.js';

const MODEL = smallModel(11);
const OTHER = smallModel(12);
const W = workerMode();
const dir = mkdtempSync(join(tmpdir(), 'vitguard-model-memory-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => {
  if (e instanceof VitguardError) return e.code;
  throw e;
});
const stable = (r: ClassifyResult) => ({ top: r.top, ood: r.ood, logits: Array.from(r.logits!) });
const chw = () => new Float32Array(28 * 28);
type Inner = { model: { held: boolean; fingerprint: string | null }; clf: Classifier; _run<T>(fn: (c: Classifier) => T): Promise<T> };
const inner = (vg: VitguardClassifier) => vg as unknown as Inner;
/** Poison the engine's residual stream pointer past memory: the first kernel that touches it traps for real. */
const poison = (c: Classifier) => { (c.engine as unknown as { state: { arena: { x: number } } }).state.arena.x = 0x7fff0000; };

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

describe('Engine keepModel', () => {
  test('false: no tensor kept, the same answers; after a trap E_WASM, needsModel, and E_WASM again (no rebuild from nothing)', async () => {
    const kept = await Engine.create(MODEL);
    const lean = await Engine.create(MODEL, { keepModel: false });
    expect((lean as unknown as { file: { tensors: Map<string, unknown> } }).file.tensors.size).toBe(0);
    expect((kept as unknown as { file: { tensors: Map<string, unknown> } }).file.tensors.size).toBeGreaterThan(0);
    const ref = Array.from(kept.forward(chw()).logits);
    expect(Array.from(lean.forward(chw()).logits)).toEqual(ref);
    for (const e of [kept, lean]) (e as unknown as { state: { arena: { x: number } } }).state.arena.x = 0x7fff0000;
    expect(await code((async () => lean.forward(chw()))())).toBe('E_WASM');
    expect(lean.needsModel).toBe(true);
    expect(await code((async () => lean.forward(chw()))())).toBe('E_WASM');
    // the default engine rebuilds itself from the file it kept
    expect(await code((async () => kept.forward(chw()))())).toBe('E_WASM');
    expect(kept.needsModel).toBe(false);
    expect(Array.from(kept.forward(chw()).logits)).toEqual(ref);
    kept.dispose();
    lean.dispose();
    expect(lean.needsModel).toBe(false);
  });
});

describe('in-thread classifier', () => {
  test('from a path: the bytes go once digested; a trap re-reads the file and answers as before', async () => {
    const path = join(dir, 'm.safetensors');
    writeFileSync(path, MODEL);
    const vg = await createClassifier({ model: path });
    try {
      await until(() => !inner(vg).model.held);
      expect(inner(vg).model.held).toBe(false);
      expect(inner(vg).model.fingerprint).toMatch(/^[0-9a-f]{64}$/);
      expect(inner(vg).clf.model.tensors.size).toBe(0);
      const before = stable(await vg.classify(randomPng(1), { logits: true }));
      expect(await code(inner(vg)._run((c) => { poison(c); return c.classify(randomPng(1)); }))).toBe('E_WASM');
      expect(stable(await vg.classify(randomPng(1), { logits: true }))).toEqual(before);
      expect((vg as unknown as { rebuilds: number }).rebuilds).toBe(1);
    } finally { await vg.dispose(); }
  });

  test('the file changed on disk before the rebuild: E_INTEGRITY, never another model; put back, the next call answers', async () => {
    const path = join(dir, 'changing.safetensors');
    writeFileSync(path, MODEL);
    const vg = await createClassifier({ model: path });
    try {
      await until(() => !inner(vg).model.held);
      const before = stable(await vg.classify(randomPng(2), { logits: true }));
      writeFileSync(path, OTHER);
      expect(await code(inner(vg)._run((c) => { poison(c); return c.classify(randomPng(2)); }))).toBe('E_INTEGRITY');
      expect(await code(vg.classify(randomPng(2)))).toBe('E_INTEGRITY'); // tried again, still not the same model
      writeFileSync(path, MODEL);
      expect(stable(await vg.classify(randomPng(2), { logits: true }))).toEqual(before);
    } finally { await vg.dispose(); }
  });

  test('from bytes: they stay (the caller passed them, nothing else would give them back); a trap still rebuilds', async () => {
    const vg = await createClassifier({ model: MODEL.slice() });
    try {
      expect(inner(vg).model.held).toBe(true);
      const before = stable(await vg.classify(randomPng(3), { logits: true }));
      expect(await code(inner(vg)._run((c) => { poison(c); return c.classify(randomPng(3)); }))).toBe('E_WASM');
      expect(stable(await vg.classify(randomPng(3), { logits: true }))).toEqual(before);
    } finally { await vg.dispose(); }
  });
});

describe('worker', () => {
  test('from a path: the pool lets its copy go; a replacement worker loads the file again (E_INTEGRITY if it changed)', async () => {
    const path = join(dir, 'w.safetensors');
    writeFileSync(path, MODEL);
    const vg = await createClassifier({ model: path, ...W });
    const pool = (vg as unknown as { pool: { replacements: number; terminateWorker(i: number): Promise<void>; opts: { init: { model: Uint8Array }; model: { held: boolean } } } }).pool;
    try {
      await until(() => !pool.opts.model.held);
      expect(pool.opts.model.held).toBe(false);
      expect(pool.opts.init.model.byteLength).toBe(0);
      const want = stable(await vg.classify(randomPng(5), { logits: true }));
      await pool.terminateWorker(0);
      expect(stable(await within(vg.classify(randomPng(5), { logits: true }), 20_000, 'the replacement'))).toEqual(want);
      writeFileSync(path, OTHER);
      await pool.terminateWorker(0);
      expect(await code(within(vg.classify(randomPng(5)), 20_000, 'a replacement from a changed file'))).toBe('E_INTEGRITY');
      writeFileSync(path, MODEL);
      await pool.terminateWorker(0);
      expect(stable(await within(vg.classify(randomPng(5), { logits: true }), 20_000, 'the file put back'))).toEqual(want);
      expect(pool.replacements).toBe(3);
    } finally { await vg.dispose(); }
  });

  test('a trap inside the worker\'s engine (it keeps no model): that call E_WASM, the worker replaced, the next calls right', async () => {
    const vg = await createClassifier({ model: MODEL, ...W });
    const pool = (vg as unknown as { pool: { replacements: number; alive: number } }).pool;
    try {
      const want = stable(await (await createClassifier({ model: MODEL })).classify(randomPng(4), { logits: true }));
      expect(stable(await vg.classify(randomPng(4), { logits: true }))).toEqual(want);
      const fault = (vg as unknown as { _fault(k: string): Promise<null> })._fault('engine-trap');
      expect(await code(fault)).toBe('E_WASM');
      expect(pool.replacements).toBe(1);
      const after = await within(vg.classify(randomPng(4), { logits: true }), 20_000, 'a call after the replacement');
      expect(stable(after)).toEqual(want);
      expect(pool.alive).toBe(1);
    } finally { await vg.dispose(); }
  });
});

