// The Node bundle (dist/node) as a user gets it through package.json `exports` (`import 'vitguard'` under the
// "node" condition): worker_threads from the bundled worker.js give the same answers as in-thread.

import { expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { manifest, requireBuilt, ROOT, SAMPLES } from './common.js';

test('import "vitguard" in Node resolves to dist/node; a 2-worker pool equals in-thread on every sample', async () => {
  requireBuilt('dist/node/index.js', 'dist/node/worker.js', 'dist/demo/manifest.json');
  const resolved = import.meta.resolve?.('vitguard') ?? '';
  expect(resolved.endsWith('/dist/node/index.js')).toBe(true);
  const api = (await import(join(ROOT, 'dist', 'node', 'index.js'))) as typeof import('../../sdk/index.js');
  const m = manifest();
  const model = new Uint8Array(readFileSync(join(ROOT, 'dist', 'demo', m.schemes.w8a8)));
  const local = await api.createClassifier({ model });
  const pool = await api.createClassifier({ model, worker: true, workers: 2 });
  try {
    const images = m.samples.map((s) => new Uint8Array(readFileSync(join(SAMPLES, s.file))));
    const want = await Promise.all(images.map((b) => local.classify(b.slice(), { logits: true })));
    const got = await Promise.all(images.map((b) => pool.classify(b.slice(), { logits: true })));
    expect(got.map((r) => Array.from(r.logits!))).toEqual(want.map((r) => Array.from(r.logits!)));
    expect((await pool.info())).toMatchObject({ mode: 'worker', workers: 2, scheme: 'w8a8' });
  } finally {
    await local.dispose();
    await pool.dispose();
  }
});
