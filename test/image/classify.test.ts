// Decoding wired into classification: the classifier decodes encoded images reduced to what the model's
// preprocessing needs (short side ≥ 2·floor(imgSize / cropPct)), upright from their EXIF orientation, within the
// limits given to Classifier.create / createClassifier.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Classifier } from '../../sdk/classifier.js';
import { decodeImage } from '../../sdk/image/decode.js';
import { encodePng } from '../../sdk/image/encode.js';
import { createClassifier, EDGE_IMAGE_LIMITS } from '../../sdk/index.js';
import { WASM_BASE } from '../api/fixtures.js';
import { buildWorkerEntry } from '../api/worker-build.js';
import { REPO, fixture, thrown } from './helpers.js';

const MODELS = ['vit', 'deit', 'deit3'] as const;
const clfs = new Map<string, Classifier>();
beforeAll(async () => {
  for (const m of MODELS) clfs.set(m, await Classifier.create(new Uint8Array(readFileSync(join(REPO, `models/fmnist-${m}.safetensors`))), { wasm: 'simd' }));
});
afterAll(() => clfs.forEach((c) => c.dispose()));

const sample = (name: string) => new Uint8Array(readFileSync(join(REPO, 'demos/samples', name)));
const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

/** A sample scaled up k× (nearest), as a large PNG and JPEG. */
function enlarged(name: string, k: number): { png: Uint8Array; jpg: Uint8Array } {
  const d = decodeImage(sample(name));
  const W = d.width * k, H = d.height * k;
  const rgba = new Uint8Array(W * H * 4);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) rgba.set(d.data.subarray(((Math.floor(y / k) * d.width) + Math.floor(x / k)) * 4, ((Math.floor(y / k) * d.width) + Math.floor(x / k)) * 4 + 4), (y * W + x) * 4);
  return { png: encodePng({ width: W, height: H, data: rgba, channels: 4 }), jpg: new Uint8Array(jpeg.encode({ width: W, height: H, data: rgba }, 95).data) };
}

describe('EXIF orientation', () => {
  test.each(MODELS)('a sample stored turned (orientation 6) is classified as the upright one (fmnist-%s)', (m) => {
    const clf = clfs.get(m)!;
    const upright = clf.classify(sample('fmnist-Ankle_boot-0.png'), { logits: true });
    const png = clf.classify(fixture('fmnist-boot-rot6.png'), { logits: true });
    // PNG: lossless, so the same tensor exactly
    expect(Array.from(png.logits!)).toEqual(Array.from(upright.logits!));
    // JPEG: the turned sample enlarged to 448×448 at q95, decoded reduced (448 ≥ 4·28) and turned back
    const jpg = clf.classify(fixture('fmnist-boot-rot6.jpg'));
    expect(jpg.top[0].label).toBe(upright.top[0].label);
    expect(upright.top[0].label).toBe('Ankle boot');
  });

  test('autoOrient: false classifies the stored (turned) pixels', async () => {
    const bytes = new Uint8Array(readFileSync(join(REPO, 'models/fmnist-deit.safetensors')));
    const stored = await Classifier.create(bytes, { wasm: 'simd', autoOrient: false });
    const turned = stored.toTensor(fixture('fmnist-boot-rot6.png'));
    const upright = clfs.get('deit')!.toTensor(fixture('fmnist-boot-rot6.png'));
    expect(maxAbsDiff(turned, upright)).toBeGreaterThan(0.5);
    expect(Array.from(upright)).toEqual(Array.from(clfs.get('deit')!.toTensor(sample('fmnist-Ankle_boot-0.png'))));
    stored.dispose();
  });
});

describe('reduced decoding', () => {
  test.each(['fmnist-Bag-18.png', 'fmnist-Trouser-2.png'])('%s enlarged 40× (1120 px): reduced decode, same top-1 and a close tensor as the full one', (name) => {
    const { png, jpg } = enlarged(name, 40);
    for (const bytes of [png, jpg]) {
      const full = decodeImage(bytes);
      expect(full.width).toBe(1120);
      const reduced = decodeImage(bytes, { minShortSide: 28 });
      expect(reduced.scale).toBeGreaterThanOrEqual(8);
      for (const m of MODELS) {
        const clf = clfs.get(m)!;
        const viaBytes = clf.toTensor(bytes); // the classifier decodes reduced on its own
        expect(Array.from(viaBytes)).toEqual(Array.from(clf.toTensor({ data: reduced.data, width: reduced.width, height: reduced.height })));
        const fromFull = clf.toTensor({ data: full.data, width: full.width, height: full.height });
        // PNG: box factor 20 divides the 40× blocks, so the same tensor to float rounding (observed 2e-7); JPEG at
        // 1/8 against the full decode: 0.029–0.032 observed (std 0.353: under 3 grey levels)
        expect(maxAbsDiff(viaBytes, fromFull), m).toBeLessThan(bytes === png ? 1e-5 : 0.06);
        expect(clf.classify(bytes).top[0].index).toBe(clf.classify({ data: full.data, width: full.width, height: full.height }).top[0].index);
      }
    }
  });

  test('the 12-megapixel photo: reduced (1/8) and full decodes give the same top-1 and a close tensor', () => {
    const bytes = fixture('phone-4000x3000.jpg');
    const full = decodeImage(bytes);
    for (const m of MODELS) {
      const clf = clfs.get(m)!;
      const a = clf.toTensor(bytes);
      const b = clf.toTensor({ data: full.data, width: full.width, height: full.height });
      expect(maxAbsDiff(a, b), m).toBeLessThan(0.02); // observed 0.004
      expect(clf.classify(bytes).top[0].index).toBe(clf.classify({ data: full.data, width: full.width, height: full.height }).top[0].index);
    }
  });

  test('images under 4× the model size decode at full size: the same tensor as before', () => {
    // the shipped samples (28 and 32 px) and a 100-px image for a 28-px model are never reduced
    const clf = clfs.get('vit')!;
    const { png } = enlarged('fmnist-Coat-6.png', 3); // 84 px < 4·28 − 2
    const d = decodeImage(png, { minShortSide: 28 });
    expect(d.scale).toBe(1);
    expect(Array.from(clf.toTensor(png))).toEqual(Array.from(clf.toTensor({ data: d.data, width: d.width, height: d.height })));
  });
});

describe('limits through Classifier.create and createClassifier', () => {
  const model = () => new Uint8Array(readFileSync(join(REPO, 'models/fmnist-deit.safetensors')));

  test('Classifier.create: maxPixels and maxDecodeBytes apply to encoded images; bad values fail at create', async () => {
    const clf = await Classifier.create(model(), { wasm: 'simd', maxPixels: 1000 });
    expect(clf.classify(sample('fmnist-Bag-18.png')).top.length).toBeGreaterThan(0); // 784 px
    const e = thrown(() => clf.classify(fixture('phone-4000x3000.jpg')));
    expect([e.code, /over the limit of 0\.00 megapixels \(maxPixels\)/.test(e.message)]).toEqual(['E_IMAGE_TOO_LARGE', true]);
    clf.dispose();
    await expect(Classifier.create(model(), { maxDecodeBytes: -1 })).rejects.toMatchObject({ code: 'E_INPUT' });
  });

  test('createClassifier in-thread: the edge limits refuse the bomb (E_IMAGE_TOO_LARGE) and classify the phone photo', async () => {
    const vg = await createClassifier({ model: model(), wasm: 'simd', ...EDGE_IMAGE_LIMITS });
    await expect(vg.classify(fixture('bomb-8000.png'))).rejects.toMatchObject({ code: 'E_IMAGE_TOO_LARGE' });
    await expect(vg.classify(fixture('bomb-20000.png'))).rejects.toMatchObject({ code: 'E_IMAGE_TOO_LARGE' });
    const r = await vg.classify(fixture('phone-4000x3000-progressive.jpg'));
    expect(r.top.length).toBeGreaterThan(0);
    await vg.dispose();
  });

  test('createClassifier with a worker: the limits travel to the worker', async () => {
    const entry = buildWorkerEntry(); // vitest runs TypeScript; a worker needs the sdk as JS (see test/api)
    const vg = await createClassifier({ model: model(), wasm: 'simd', worker: true, workerUrl: entry.url, wasmBase: WASM_BASE, maxPixels: 1000 });
    try {
      await expect(vg.classify(fixture('png/rgb-8.png'))).resolves.toBeTruthy(); // 851 px
      await expect(vg.classify(fixture('orient/o6.jpg'))).resolves.toBeTruthy(); // 128 px
      await expect(vg.classify(fixture('jpeg/baseline-420.jpg'))).rejects.toMatchObject({ code: 'E_IMAGE_TOO_LARGE' }); // 3015 px
    } finally {
      await vg.dispose();
      entry.cleanup();
    }
  });
});
