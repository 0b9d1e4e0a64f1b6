// EngineOptions.attention = 'int8' (assembly/attention_q8.ts through the engine's attention region): the default stays
// f32, int8 swaps in the four int8 calls per (image, head), the forward stays close to the f32 one on trained models,
// and the option reaches createClassifier (in thread and in a worker) and info().

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../sdk/engine/index.js';
import { Profile } from '../../sdk/engine/program.js';
import { openDataset } from '../../sdk/data/index.js';
import { Classifier } from '../../sdk/classifier.js';
import { createClassifier } from '../../sdk/index.js';
import { quantizeModel } from '../../sdk/quant/index.js';
import { maxRelErr } from '../kernels/helpers.js';
import { randomModel, TINY } from './models.js';
import { workerMode } from '../api/worker-build.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const FMNIST = resolve(here, '../fixtures/data/fashion-mnist');
const W = workerMode(); // worker mode runs the SDK transpiled to JS (test/api/worker-build.ts)
const shipped = (name: string) => new Uint8Array(readFileSync(resolve(root, `models/${name}.safetensors`)));

function input(n: number, len: number, seed = 1): Float32Array {
  return Float32Array.from({ length: n * len }, (_, i) => Math.sin(i * 0.37 + seed) * 1.5);
}

describe("EngineOptions.attention = 'int8'", () => {
  it("defaults to f32; 'int8' runs the int8 calls (and only them) for attention; a bad value is E_INPUT", async () => {
    const { file } = randomModel(TINY.vit);
    const f32 = await Engine.create(file, { wasm: 'simd' });
    const q8 = await Engine.create(file, { wasm: 'simd', attention: 'int8' });
    expect(f32.attention).toBe('f32');
    expect(q8.attention).toBe('int8');
    const [C, S] = f32.inputShape;
    const x = input(1, C * S * S);
    const fns = async (e: Engine) => {
      const p = new Profile();
      e.setProfile(p);
      e.forward(x);
      e.setProfile(null);
      return p;
    };
    const pf = await fns(f32), pq = await fns(q8);
    const heads = TINY.vit.heads * TINY.vit.depth;
    expect(pq.calls.get('attn_quant')).toBe(heads);
    for (const op of ['attn_qk', 'attn_softmax', 'attn_pv'] as const) {
      expect(pq.calls.get(op)).toBe(heads);
      expect(pf.calls.get(op)).toBe(heads);
      expect([...pq.fns.get(op)!].every((f) => f.startsWith('attention_q8_'))).toBe(true);
      expect([...pf.fns.get(op)!].some((f) => f.startsWith('attention_q8_'))).toBe(false);
    }
    expect(pf.calls.get('attn_quant')).toBeUndefined();
    await expect(Engine.create(file, { attention: 'int4' as never })).rejects.toMatchObject({ code: 'E_INPUT' });
    f32.dispose();
    q8.dispose();
  });

  it('batches, probabilities and odd widths: a batch equals its images one by one; probabilities change nothing and sum to 1', async () => {
    for (const cfg of [TINY.vit_odd, TINY.deit_distilled, TINY.reg_gap]) {
      const file = quantizeModel(randomModel(cfg, 3).file, { scheme: 'w8a8' });
      const e = await Engine.create(file, { wasm: 'simd', attention: 'int8', maxBatch: 3 });
      const [C, S] = e.inputShape;
      const x = input(3, C * S * S, 2);
      const batch = e.forwardBatch(x, 3);
      for (let b = 0; b < 3; b++) {
        const one = e.forward(x.subarray(b * C * S * S, (b + 1) * C * S * S), { attention: true });
        expect(Array.from(one.logits)).toEqual(Array.from(batch[b].logits));
        for (const layer of one.attention!) {
          const T = Math.round(Math.sqrt(layer.length / cfg.heads));
          for (let r = 0; r < cfg.heads * T; r++) {
            let s = 0;
            for (let j = 0; j < T; j++) s += layer[r * T + j];
            expect(Math.abs(s - 1)).toBeLessThan(1e-5);
          }
        }
      }
      e.dispose();
    }
  });

  it('on the shipped models (w8a8, w4a8): logits within 5 % of the f32-attention ones, top-1 the same on 16 test images', async () => {
    const ds = await openDataset('fashion-mnist:test', { fashionMnistDir: FMNIST });
    const images = [];
    for (let i = 0; i < 16; i++) {
      const s = await ds.at(i);
      images.push({ data: s.pixels, width: s.width, height: s.height, channels: s.channels });
    }
    for (const name of ['fmnist-deit-w8a8', 'fmnist-deit-w4a8']) {
      const bytes = shipped(name);
      const a = await Classifier.create(bytes, { wasm: 'simd', maxBatch: 16 });
      const b = await Classifier.create(bytes, { wasm: 'simd', maxBatch: 16, attention: 'int8' });
      const ra = a.classifyBatch(images, { logits: true, topK: 1 }), rb = b.classifyBatch(images, { logits: true, topK: 1 });
      let worst = 0, same = 0;
      ra.forEach((r, i) => {
        worst = Math.max(worst, maxRelErr(rb[i].logits!, r.logits!));
        if (rb[i].top[0].index === r.top[0].index) same++;
      });
      expect(worst, name).toBeLessThan(0.05);
      expect(worst, name).toBeGreaterThan(0); // a different path really ran
      expect(same, name).toBe(16);
      a.dispose();
      b.dispose();
    }
  });

  it('createClassifier passes it through, in thread and in a worker; info() reports it', async () => {
    const model = shipped('fmnist-deit-w8a8');
    const img = { data: new Uint8Array(28 * 28).map((_, i) => (i * 37) & 255), width: 28, height: 28, channels: 1 as const };
    const plain = await createClassifier({ model, wasm: 'simd' });
    const inThread = await createClassifier({ model, wasm: 'simd', attention: 'int8' });
    const inWorker = await createClassifier({ model, ...W, wasm: 'simd', attention: 'int8' });
    try {
      expect((await plain.info()).attention).toBe('f32');
      expect((await inThread.info()).attention).toBe('int8');
      expect((await inWorker.info()).attention).toBe('int8');
      const [p, t, w] = [await plain.classify(img, { logits: true }), await inThread.classify(img, { logits: true }), await inWorker.classify(img, { logits: true })];
      expect(Array.from(w.logits!)).toEqual(Array.from(t.logits!));
      expect(Array.from(t.logits!)).not.toEqual(Array.from(p.logits!));
      await expect(createClassifier({ model, attention: 'fp16' as never })).rejects.toMatchObject({ code: 'E_INPUT' });
    } finally {
      await plain.dispose();
      await inThread.dispose();
      await inWorker.dispose();
    }
  });
});
