// A disposed engine's wasm instance is taken back by the next engine of the same layout (sdk/engine/wasm.ts
// releaseInstance): its pages are already faulted in. Taken back, it is as a fresh one: the same answers bit for bit
// even after the old engine's memory was filled with garbage, the same memoryBytes; another layout, a trapped
// instance or a second engine at once never gets it.

import { describe, expect, it } from 'vitest';
import { Engine } from '../../sdk/engine/index.js';
import { encodeMeta, readModel, type ModelMeta, type ViTConfig } from '../../sdk/format/model.js';
import { writeSafetensors } from '../../sdk/format/safetensors.js';
import { gaussian, mulberry32, randomCheckpoint } from '../../sdk/model/random.js';
import { quantizeModel } from '../../sdk/quant/index.js';

const CONFIG: ViTConfig = {
  imgSize: 32, patch: 8, inChans: 3, dim: 64, depth: 2, heads: 2, mlpHidden: 128, numClasses: 10,
  distilled: false, layerScale: false, noEmbedClass: false, eps: 1e-6,
};
const META: ModelMeta = {
  arch: 'vit_reuse_test', config: CONFIG, labels: Array.from({ length: 10 }, (_, i) => `c${i}`),
  preprocessing: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], cropPct: 1, interpolation: 'bicubic' }, scheme: { name: 'fp32' }, extra: {},
};
const FP32 = writeSafetensors(randomCheckpoint(CONFIG, 3), encodeMeta(META));
const W4A8 = (() => { const q = quantizeModel(readModel(FP32), { scheme: 'w4a8' }); return writeSafetensors(q.tensors, encodeMeta(q.meta)); })();
const randn = gaussian(mulberry32(9));
const IMG = Float32Array.from({ length: 3 * 32 * 32 }, () => randn());

type Inner = { state: { inst: { kernels: { memory: WebAssembly.Memory }; heap: { used: number } }; arena: { x: number } } | null };
const kernelsOf = (e: Engine) => (e as unknown as Inner).state!.inst.kernels;

describe('instance reuse', () => {
  it('the same layout takes the disposed instance back, garbage and all wiped: same logits and memoryBytes as fresh', async () => {
    for (const model of [FP32, W4A8]) {
      const a = await Engine.create(model, { wasm: 'simd' });
      const want = Array.from(a.forward(IMG).logits);
      const bytes = a.memoryBytes();
      const k = kernelsOf(a);
      new Uint8Array(k.memory.buffer, 1024).fill(0xa7); // the old engine's memory, weights included, made garbage
      a.dispose();
      const b = await Engine.create(model, { wasm: 'simd' });
      expect(kernelsOf(b)).toBe(k); // taken back
      expect(b.memoryBytes()).toBe(bytes);
      expect(Array.from(b.forward(IMG).logits)).toEqual(want);
      // and a second engine while b lives gets its own
      const c = await Engine.create(model, { wasm: 'simd' });
      expect(kernelsOf(c)).not.toBe(k);
      expect(Array.from(c.forward(IMG).logits)).toEqual(want);
      b.dispose();
      c.dispose();
    }
  });

  it('another layout (int4Memory, maxBatch, model) starts its own instance', async () => {
    const a = await Engine.create(W4A8, { wasm: 'simd', int4Memory: 'fast' });
    const k = kernelsOf(a);
    a.dispose();
    const b = await Engine.create(W4A8, { wasm: 'simd', int4Memory: 'compact' });
    expect(kernelsOf(b)).not.toBe(k);
    const bk = kernelsOf(b);
    b.dispose();
    const c = await Engine.create(W4A8, { wasm: 'simd', int4Memory: 'compact', maxBatch: 2 });
    expect(kernelsOf(c)).not.toBe(bk);
    const ck = kernelsOf(c);
    c.dispose();
    const d = await Engine.create(FP32, { wasm: 'simd', maxBatch: 2 });
    expect(kernelsOf(d)).not.toBe(ck);
    d.dispose();
  });

  it('a trapped instance is never taken back', async () => {
    const a = await Engine.create(FP32, { wasm: 'simd' });
    const want = Array.from(a.forward(IMG).logits);
    const k = kernelsOf(a);
    (a as unknown as Inner).state!.arena.x = 0x7fff0000;
    expect(() => a.forward(IMG)).toThrow(/wasm trapped/);
    a.dispose();
    const b = await Engine.create(FP32, { wasm: 'simd' });
    expect(kernelsOf(b)).not.toBe(k);
    expect(Array.from(b.forward(IMG).logits)).toEqual(want);
    b.dispose();
  });
});
