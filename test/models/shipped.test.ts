// The shipped models agree with the framework that trained them: the engine's logits on the first 16
// Fashion-MNIST test images equal torch's (recorded by tools/train/train.py, CPU fp32) within 1e-4 of the logit scale.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Classifier } from '../../sdk/classifier.js';
import { openDataset } from '../../sdk/data/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const FMNIST = resolve(here, '../fixtures/data/fashion-mnist');

describe.each(['vit', 'deit', 'deit3', 'vit-reg'])('models/fmnist-%s', (name) => {
  it('matches torch logits on the first 16 test images', async () => {
    const ref = JSON.parse(readFileSync(resolve(here, `../fixtures/models/fmnist-${name}.logits16.json`), 'utf8')) as { labels: number[]; logits: number[][] };
    const clf = await Classifier.create(new Uint8Array(readFileSync(resolve(root, `models/fmnist-${name}.safetensors`))), { wasm: 'simd', maxBatch: 16 });
    const ds = await openDataset('fashion-mnist:test', { fashionMnistDir: FMNIST });
    const images = [];
    for (let i = 0; i < 16; i++) {
      const s = await ds.at(i);
      expect(s.label).toBe(ref.labels[i]);
      images.push({ data: s.pixels, width: s.width, height: s.height, channels: s.channels });
    }
    const results = clf.classifyBatch(images, { logits: true, topK: 1 });
    let worst = 0;
    results.forEach((r, i) => {
      const want = ref.logits[i];
      const scale = Math.max(...want.map(Math.abs));
      for (let j = 0; j < want.length; j++) worst = Math.max(worst, Math.abs(r.logits![j] - want[j]) / scale);
      expect(r.top[0].index).toBe(want.indexOf(Math.max(...want)));
    });
    expect(worst).toBeLessThan(1e-4);
    clf.dispose();
  });
});
