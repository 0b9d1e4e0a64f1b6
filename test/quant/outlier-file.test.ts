// Outlier-aware model files: `vitguard quantize --scheme w4a4-oa|w4a8-oa --calib SPEC` writes the plan `vitguard eval`
// builds in memory, createClassifier runs the file with eval's numbers bit for bit, and a plan that does not fit the
// model is refused with E_PLAN.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../sdk/cli/main.js';
import { createClassifier } from '../../sdk/index.js';
import { Engine } from '../../sdk/engine/index.js';
import { readModel, validateOutlierPlan, type OutlierPlan } from '../../sdk/format/model.js';
import { readSafetensors, writeSafetensors } from '../../sdk/format/safetensors.js';
import { calibrationImages, openNonEmpty, sampleTensor } from '../../sdk/study/features.js';
import { modelForScheme } from '../../sdk/study/schemes.js';
import { tinyModel } from '../study/helpers.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DEIT = resolve(root, 'models/fmnist-deit.safetensors');
const CALIB = 'fashion-mnist:train:40';
let out: string[] = [];
beforeEach(() => {
  out = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { out.push(a.join(' ')); });
});
afterEach(() => vi.restoreAllMocks());

/** Normalised CHW of the first n images of the fixture test set, for `file`'s preprocessing. */
async function testImages(n: number): Promise<Float32Array[]> {
  const file = readModel(readFileSync(DEIT));
  const ds = await openNonEmpty(`fashion-mnist:test:${n}`, 'test', {});
  const xs: Float32Array[] = [];
  for (let i = 0; i < n; i++) xs.push(sampleTensor(file.meta, await ds.at(i)));
  return xs;
}

/** The plan with a field changed, as bytes (the tensors untouched). */
function withPlan(bytes: Uint8Array, edit: (p: Record<string, unknown>) => void): Uint8Array {
  const st = readSafetensors(bytes);
  const scheme = JSON.parse(st.metadata.scheme);
  edit(scheme);
  return writeSafetensors(st.tensors, { ...st.metadata, scheme: JSON.stringify(scheme) });
}

describe('outlier-aware model files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vitguard-oa-'));

  for (const scheme of ['w4a4-oa', 'w4a8-oa'] as const) {
    it(`quantize --scheme ${scheme} --calib: the file runs in createClassifier with eval's logits and features, bit for bit`, async () => {
      const path = join(dir, `deit-${scheme}.safetensors`);
      expect(await main(['quantize', DEIT, '-o', path, '--scheme', scheme, '--calib', CALIB])).toBe(0);
      expect(out.join('\n')).toMatch(new RegExp(`→ ${scheme} \\(plan from 40 images of ${CALIB}`));
      const file = readModel(readFileSync(path));
      const plan = file.meta.scheme as unknown as OutlierPlan;
      expect(plan).toMatchObject({ base: scheme.slice(0, -3), madeFor: { depth: 6, tokens: 51, dim: 96, mlpHidden: 384 }, calib: { spec: CALIB, images: 40 } });
      expect(Object.keys(plan.layerRatios!)).toHaveLength(24);
      if (scheme === 'w4a4-oa') {
        expect(plan.a8Tokens).toBe(2); // class + distillation token
        expect(plan.a8Layers.length).toBeGreaterThan(0); // the shipped DeiT's fc2 inputs are heavy-tailed
        for (const l of plan.a8Layers) expect(plan.layerRatios![l]).toBeGreaterThan(plan.ratio);
      } else {
        expect(plan.outlierChannels).toBe(4);
        expect(file.tensors.get('blocks.0.mlp.fc2.outlier.idx')!.shape).toEqual([4]);
      }

      // the eval path: the same fp32 model, the first 64 (here all 40) images of the same spec, built in memory
      const fp32 = readModel(readFileSync(DEIT));
      const calib = await calibrationImages(fp32, await openNonEmpty(CALIB, 'fit', {}), 64);
      const evalFile = await modelForScheme(fp32, scheme, { calib });
      expect(evalFile.meta.scheme).toEqual(file.meta.scheme);
      const engine = await Engine.create(evalFile, { wasm: 'simd', maxBatch: 4 });
      const vg = await createClassifier({ model: path, wasm: 'simd' });
      try {
        const xs = await testImages(6);
        const ref = engine.forwardBatch(Float32Array.from(xs.flatMap((x) => Array.from(x))), xs.length);
        for (let i = 0; i < xs.length; i++) {
          const r = await vg.classify({ chw: xs[i] }, { logits: true });
          expect(Array.from(r.logits!)).toEqual(Array.from(ref[i].logits));
          expect(Array.from(await vg.embed({ chw: xs[i] }))).toEqual(Array.from(ref[i].feature));
        }
        // and the plan is not a no-op: plain w4a4 / w4a8 of the same model gives other logits
        const plain = await Engine.create(await modelForScheme(fp32, scheme.slice(0, -3)), { wasm: 'simd' });
        expect(Array.from(plain.forward(xs[0]).logits)).not.toEqual(Array.from(ref[0].logits));
        plain.dispose();
      } finally {
        engine.dispose();
        await vg.dispose();
      }
    }, 60_000);
  }

  it('fit-ood fits a detector on the outlier-aware file; classify returns its verdict', async () => {
    const path = join(dir, 'deit-w4a4-oa.safetensors');
    const fitted = join(dir, 'deit-w4a4-oa-ood.safetensors');
    expect(await main(['fit-ood', path, '--id', 'fashion-mnist:train:60', '--method', 'mahalanobis', '--holdout', '20', '-o', fitted, '--json'])).toBe(0);
    expect(JSON.parse(out.at(-1)!)).toMatchObject({ scheme: 'w4a4-oa', method: 'mahalanobis', nFit: 40, nHoldout: 20 });
    const vg = await createClassifier({ model: fitted, wasm: 'simd' });
    expect(await vg.info()).toMatchObject({ scheme: 'w4a4-oa', ood: { method: 'mahalanobis', fitted: true } });
    const r = await vg.classify(readFileSync(resolve(root, 'demos/samples/mnist-7-0.png')));
    expect(r.ood.method).toBe('mahalanobis');
    await vg.dispose();
  }, 60_000);

  it('a plan that does not fit the model is refused with E_PLAN, by readModel and by createClassifier', async () => {
    const bytes = new Uint8Array(readFileSync(join(dir, 'deit-w4a4-oa.safetensors')));
    const cases: Array<[string, (p: Record<string, unknown>) => void, RegExp]> = [
      ['a layer of a deeper model', (p) => { (p.a8Layers as string[]).push('blocks.9.mlp.fc2'); }, /no such block layer/],
      ['a layer name that is not a block layer', (p) => { p.a8Layers = ['head']; }, /no such block layer/],
      ['more 8-bit rows than tokens', (p) => { p.a8Tokens = 52; }, /51 tokens/],
      ['made for another token count', (p) => { p.madeFor = { depth: 6, tokens: 197, dim: 96, mlpHidden: 384 }; }, /tokens 197.*tokens 51/],
      ['made for another width', (p) => { p.madeFor = { depth: 6, tokens: 51, dim: 192, mlpHidden: 768 }; }, /dim 192, mlpHidden 768.*dim 96, mlpHidden 384/],
      ['a layer listed twice', (p) => { p.a8Layers = ['blocks.0.mlp.fc2', 'blocks.0.mlp.fc2']; }, /twice/],
    ];
    for (const [what, edit, message] of cases) {
      const bad = withPlan(bytes, edit);
      expect(() => readModel(bad), what).toThrow(expect.objectContaining({ code: 'E_PLAN', message: expect.stringMatching(message) }));
      await expect(createClassifier({ model: bad, wasm: 'simd' }), what).rejects.toMatchObject({ code: 'E_PLAN' });
    }
    // a plan moved onto another model (2 blocks, 17 tokens): the names and the shape both say so
    const tiny = tinyModel(3);
    const st = readSafetensors(bytes);
    expect(() => validateOutlierPlan(JSON.parse(st.metadata.scheme), tiny.meta.config)).toThrow(expect.objectContaining({ code: 'E_PLAN' }));
    // wrong types are metadata errors
    expect(() => readModel(withPlan(bytes, (p) => { p.a8Layers = 'blocks.0.mlp.fc2'; }))).toThrow(expect.objectContaining({ code: 'E_METADATA' }));
    expect(() => readModel(withPlan(bytes, (p) => { p.a8Tokens = -1; }))).toThrow(expect.objectContaining({ code: 'E_METADATA' }));
    expect(() => readModel(withPlan(bytes, (p) => { p.base = 'w4a8'; }))).toThrow(expect.objectContaining({ code: 'E_METADATA' }));
  }, 60_000);

  it('files without the newer plan fields (madeFor, calib, layerRatios) still load and run the same', async () => {
    const bytes = new Uint8Array(readFileSync(join(dir, 'deit-w4a4-oa.safetensors')));
    const old = withPlan(bytes, (p) => { delete p.madeFor; delete p.calib; delete p.layerRatios; });
    const [x] = await testImages(1);
    const a = await createClassifier({ model: bytes, wasm: 'simd' });
    const b = await createClassifier({ model: old, wasm: 'simd' });
    expect(Array.from((await b.classify({ chw: x }, { logits: true })).logits!)).toEqual(Array.from((await a.classify({ chw: x }, { logits: true })).logits!));
    await a.dispose();
    await b.dispose();
  }, 60_000);

  it('quantize refuses an outlier-aware scheme without --calib, with options that do not apply, or on a quantized model', async () => {
    const bad = join(dir, 'bad.safetensors');
    await expect(main(['quantize', DEIT, '-o', bad, '--scheme', 'w4a4-oa'])).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/needs --calib/) });
    await expect(main(['quantize', DEIT, '-o', bad, '--scheme', 'w4a4-oa', '--calib', CALIB, '--edges', 'fp32'])).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(main(['quantize', DEIT, '-o', bad, '--scheme', 'w4a8', '--outlier-channels', '2'])).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(main(['quantize', DEIT, '-o', bad, '--scheme', 'w4a4-oa', '--calib', 'cifar10:test:4'])).rejects.toMatchObject({ code: 'E_DATA' });
    await expect(main(['quantize', resolve(root, 'models/fmnist-deit-w4a8.safetensors'), '-o', bad, '--scheme', 'w4a4-oa', '--calib', CALIB])).rejects.toMatchObject({ code: 'E_SCHEME' });
  });
});
