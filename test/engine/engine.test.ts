// The wasm engine against the float64 reference forward (test/oracle/js-reference.ts) on tiny random models of
// every family, plus batch == single, attention rows summing to 1, validation errors and trap recovery.

import { describe, expect, it } from 'vitest';
import { Engine } from '../../sdk/engine/index.js';
import { isVitguardError } from '../../sdk/errors.js';
import { f32Tensor } from '../../sdk/format/safetensors.js';
import { maxRelErr as relErr, randomF32 } from '../kernels/helpers.js';
import { modelBytes, randomModel, TINY } from './models.js';
import { referenceForward } from '../oracle/js-reference.js';

async function expectCode(p: Promise<unknown> | (() => unknown), code: string, mention?: string): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(isVitguardError(e), String(e)).toBe(true);
    expect((e as { code: string }).code).toBe(code);
    if (mention) expect((e as Error).message).toContain(mention);
    return;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

describe.each(Object.entries(TINY))('%s: engine vs float64 reference', (family, config) => {
  it('logits, feature, attention and token norms agree to 1e-4 relative', async () => {
    const { bytes, tensors } = randomModel(config, 11);
    const engine = await Engine.create(bytes, { wasm: 'simd' });
    expect(engine.wasm).toBe('simd');
    for (const seed of [1, 2]) {
      const img = randomF32(config.inChans * config.imgSize ** 2, seed * 101, -2, 2);
      const got = engine.forward(img, { attention: true, tokenNorms: true });
      const ref = referenceForward(tensors, config, img);
      expect(got.logits.length).toBe(config.numClasses);
      expect(got.feature.length).toBe(config.dim);
      expect(relErr(got.logits, ref.logits), `${family} logits`).toBeLessThan(1e-4);
      expect(relErr(got.feature, ref.feature), `${family} feature`).toBeLessThan(1e-4);
      expect(got.attention!.length).toBe(config.depth);
      expect(got.tokenNorms!.length).toBe(config.depth);
      for (let l = 0; l < config.depth; l++) {
        expect(relErr(got.attention![l], ref.attention[l])).toBeLessThan(1e-4);
        expect(relErr(got.tokenNorms![l], ref.tokenNorms[l])).toBeLessThan(1e-4);
      }
      // the logits are not trivially small: the comparison means something
      expect(Math.max(...ref.logits.map(Math.abs))).toBeGreaterThan(0.05);
    }
    engine.dispose();
  });
});

describe('engine behaviour', () => {
  it('batch == single; attention rows sum to 1; options off leave fields out', async () => {
    const config = TINY.deit_distilled;
    const { bytes } = randomModel(config, 5);
    const engine = await Engine.create(bytes, { wasm: 'simd', maxBatch: 3 });
    const n = 5; // two passes: 3 + 2
    const imgLen = config.inChans * config.imgSize ** 2;
    const batch = randomF32(n * imgLen, 77, -2, 2);
    const many = engine.forwardBatch(batch, n, { attention: true });
    expect(many.length).toBe(n);
    const T = (config.imgSize / config.patch) ** 2 + 2;
    for (let i = 0; i < n; i++) {
      const one = engine.forward(batch.slice(i * imgLen, (i + 1) * imgLen));
      expect(relErr(many[i].logits, one.logits)).toBeLessThan(1e-6);
      expect(relErr(many[i].feature, one.feature)).toBeLessThan(1e-6);
      expect(one.attention).toBeUndefined();
      expect(one.tokenNorms).toBeUndefined();
      for (const probs of many[i].attention!) {
        expect(probs.length).toBe(config.heads * T * T);
        for (let r = 0; r < config.heads * T; r++) {
          let s = 0;
          for (let j = 0; j < T; j++) s += probs[r * T + j];
          expect(Math.abs(s - 1)).toBeLessThan(1e-5);
        }
      }
    }
    // different images give different outputs (the batch is not one image repeated)
    expect(relErr(many[0].logits, many[1].logits)).toBeGreaterThan(1e-3);
    expect(engine.memoryBytes()).toBeGreaterThan(0);
  });

  it('the arena is reused: memory does not grow across forwards', async () => {
    const { bytes } = randomModel(TINY.vit, 3);
    const engine = await Engine.create(bytes, { wasm: 'simd' });
    const img = randomF32(3 * 32 * 32, 9);
    const first = engine.forward(img).logits;
    const mem = engine.memoryBytes();
    for (let i = 0; i < 5; i++) engine.forward(img, { attention: true, tokenNorms: true });
    expect(engine.memoryBytes()).toBe(mem);
    expect(Array.from(engine.forward(img).logits)).toEqual(Array.from(first));
  });

  it('bad inputs: wrong length, NaN, wrong type, disposed', async () => {
    const { bytes } = randomModel(TINY.vit, 3);
    const engine = await Engine.create(bytes, { wasm: 'simd' });
    await expectCode(() => engine.forward(new Float32Array(10)), 'E_INPUT', '3072');
    const img = randomF32(3 * 32 * 32, 1);
    img[1234] = NaN;
    await expectCode(() => engine.forward(img), 'E_NONFINITE', 'image 0');
    img[1234] = Infinity;
    await expectCode(() => engine.forwardBatch(new Float32Array(2 * 3072).fill(0).map((_, i) => (i === 4000 ? Infinity : 0)), 2), 'E_NONFINITE', 'image 1');
    await expectCode(() => engine.forward(Array(3072).fill(0) as unknown as Float32Array), 'E_INPUT');
    engine.dispose();
    await expectCode(() => engine.forward(new Float32Array(3072)), 'E_DISPOSED');
  });

  it('a wasm trap becomes E_WASM and the next call runs on a rebuilt instance', async () => {
    const { bytes } = randomModel(TINY.vit, 3);
    const engine = await Engine.create(bytes, { wasm: 'simd' });
    const img = randomF32(3 * 32 * 32, 4);
    const good = engine.forward(img).logits;
    // point one layer's packed weights far outside linear memory: the next GEMM traps for real
    const st = (engine as unknown as { state: { blocks: Array<{ fc1: { packed: number } }> } }).state;
    st.blocks[1].fc1.packed = 0x7ff00000;
    await expectCode(() => engine.forward(img), 'E_WASM', 'rebuilt');
    expect(Array.from(engine.forward(img).logits)).toEqual(Array.from(good));
  });

  it('validation names missing, unknown, misshapen and non-finite tensors', async () => {
    const config = TINY.deit3;
    const { tensors } = randomModel(config, 2);
    const without = new Map(tensors);
    without.delete('blocks.1.ls2.gamma');
    await expectCode(Engine.create(modelBytes(config, without)), 'E_TENSOR_MISSING', 'blocks.1.ls2.gamma');
    const extra = new Map(tensors).set('blocks.9.attn.qkv.weight', f32Tensor([1], new Float32Array(1)));
    await expectCode(Engine.create(modelBytes(config, extra)), 'E_TENSOR_UNKNOWN', 'blocks.9.attn.qkv.weight');
    const wrong = new Map(tensors).set('blocks.0.mlp.fc1.weight', f32Tensor([config.dim, config.mlpHidden], new Float32Array(config.dim * config.mlpHidden)));
    await expectCode(Engine.create(modelBytes(config, wrong)), 'E_TENSOR_SHAPE', 'blocks.0.mlp.fc1.weight');
    const i8 = new Map(tensors).set('norm.bias', { dtype: 'I8' as const, shape: [config.dim], bytes: new Uint8Array(config.dim) });
    await expectCode(Engine.create(modelBytes(config, i8)), 'E_TENSOR_SHAPE', 'norm.bias');
    for (const name of ['blocks.2.attn.proj.weight', 'pos_embed', 'blocks.0.ls1.gamma']) {
      const data = Float32Array.from(new Float32Array(tensors.get(name)!.bytes.slice().buffer));
      data[data.length - 1] = NaN;
      const bad = new Map(tensors).set(name, f32Tensor(tensors.get(name)!.shape, data));
      await expectCode(Engine.create(modelBytes(config, bad)), 'E_NONFINITE', name);
    }
    await expectCode(Engine.create(modelBytes(config, tensors, 'x', 'w3a3-unknown')), 'E_SCHEME', 'w3a3-unknown');
    await expectCode(Engine.create(randomModel(config).bytes, { maxBatch: 0 }), 'E_INPUT', 'maxBatch');
  });

  it("'auto' picks simd on Node 20 without the flag; a wasmSource Module is used as is", async () => {
    const { bytes } = randomModel(TINY.vit, 3);
    const { readFileSync } = await import('node:fs');
    const module = new WebAssembly.Module(readFileSync(new URL('../../build/vitguard.simd.wasm', import.meta.url)));
    const e1 = await Engine.create(bytes, { wasm: 'simd', wasmSource: { simd: module } });
    const e2 = await Engine.create(bytes, { wasm: 'auto' });
    const img = randomF32(3 * 32 * 32, 8);
    if (e2.wasm === 'simd') expect(Array.from(e2.forward(img).logits)).toEqual(Array.from(e1.forward(img).logits));
    else expect(relErr(e2.forward(img).logits, e1.forward(img).logits)).toBeLessThan(1e-5);
  });
});
