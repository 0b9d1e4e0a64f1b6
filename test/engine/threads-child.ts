// Child of threads.test.ts: the relaxed-mt binary on 1 and 2 threads, run by Node with the relaxed-SIMD flags
// (node --experimental-wasm-relaxed-simd --no-liftoff --import ./test/parity/ts-register.mjs test/engine/threads-child.ts).
// Prints one JSON line: per "<scheme> <threads>" the SHA-256 of every logit and attention array, the threads info,
// and how many regions ran on the workers.

import { createHash } from 'node:crypto';
import { Engine } from '../../sdk/engine/index.js';
import type { ThreadPool } from '../../sdk/engine/threads.js';
import '../../sdk/quant/index.js';
import { threadImages, threadModel } from './threads-models.js';

const out: Record<string, { digests: string[]; threads: unknown; dispatched: number }> = {};
const x = threadImages(3);
const hash = (a: Float32Array) => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');
for (const scheme of ['fp32', 'w8a8', 'w4a8'] as const) {
  const model = await threadModel(scheme);
  for (const threads of [1, 2]) {
    const e = await Engine.create(model, { wasm: 'relaxed', maxBatch: 3, threads });
    for (let i = 0; i < 3; i++) e.forwardBatch(x, 3); // past Node 20's Liftoff bug (FACTS.md): --no-liftoff already
    const r = e.forwardBatch(x, 3, { attention: true });
    out[`${scheme} ${threads}`] = {
      digests: r.flatMap((v) => [hash(v.logits), hash(v.feature), ...v.attention!.map(hash)]),
      threads: e.threads,
      dispatched: (e as unknown as { pool: ThreadPool | null }).pool?.dispatched ?? 0,
    };
    e.dispose();
  }
}
process.stdout.write(JSON.stringify(out) + '\n');
