// Accuracy of the int4 schemes' edge formats on the shipped Fashion-MNIST models (not a test; a measurement).
//   node --import ./test/parity/ts-register.mjs test/quant/edges-accuracy.ts [fashion-mnist:test] [w4a8,w4a4]
// Prints one JSON line per model × scheme × edges: top-1, agreement with fp32 top-1, file bytes.

import { readFileSync } from 'node:fs';
import { Classifier } from '../../sdk/classifier.js';
import { accuracy } from '../../sdk/cli/accuracy.js';
import { readModel, encodeMeta } from '../../sdk/format/model.js';
import { writeSafetensors } from '../../sdk/format/safetensors.js';
import { quantizeModel, type EdgeFormat } from '../../sdk/quant/index.js';

const spec = process.argv[2] ?? 'fashion-mnist:test';
for (const name of (process.argv[4] ?? 'fmnist-vit,fmnist-deit,fmnist-deit3').split(',')) {
  const bytes = new Uint8Array(readFileSync(`models/${name}.safetensors`));
  const fp32 = readModel(bytes);
  const run = async (b: Uint8Array) => {
    const clf = await Classifier.create(b, { wasm: 'simd', maxBatch: 32 });
    try { return await accuracy(clf, spec, { batch: 32 }); } finally { clf.dispose(); }
  };
  const ref = await run(bytes);
  console.log(JSON.stringify({ model: name, scheme: 'fp32', n: ref.n, top1: ref.top1, bytes: bytes.byteLength }));
  for (const scheme of (process.argv[3] ?? 'w4a8').split(',')) {
    for (const edges of ['fp32', 'int8', 'int4'] as EdgeFormat[]) {
      let q;
      try {
        q = quantizeModel(fp32, { scheme, edges });
      } catch (e) {
        console.log(JSON.stringify({ model: name, scheme, edges, error: (e as Error).message })); // e.g. K = 16 has no int4 group
        continue;
      }
      const b = writeSafetensors(q.tensors, encodeMeta(q.meta));
      const r = await run(b);
      let agree = 0;
      for (let i = 0; i < r.n; i++) agree += r.preds[i] === ref.preds[i] ? 1 : 0;
      console.log(JSON.stringify({ model: name, scheme, edges, n: r.n, top1: r.top1, agree: agree / r.n, bytes: b.byteLength }));
    }
  }
}
