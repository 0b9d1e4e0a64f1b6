// Demo assets, run by `npm run build` after the bundles: dist/demo/manifest.json, the demo model at fp32, w8a8,
// w4a8 and w4a4-oa, and the list of sample images. The model is the first of models/fmnist-{deit,deit3,vit}.safetensors
// that exists; its quantized versions are the shipped models/<name>-<scheme>.safetensors (each with an OOD detector
// fitted on its own scheme) where present, else quantized here with the SDK (from lib/), without a detector: w4a4-oa
// then takes its plan from the in-distribution samples (demos/samples/fmnist-*.png), as `vitguard quantize --scheme
// w4a4-oa --calib` would from a dataset. Where no model has been trained yet a seeded random model at the same shape
// stands in, and the manifest (and so the page) says so.
//   node demos/browser/build.mjs [--model FILE]

import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeImage, encodeMeta, quantizeModel, readModel, writeSafetensors } from '../../lib/sdk/index.js';
import { randomCheckpoint } from '../../lib/sdk/model/random.js';
import { preprocess } from '../../lib/sdk/image/preprocess.js';
import { probeInputStats } from '../../lib/sdk/quant/calibrate.js';
import { quantizeOutlierAware } from '../../lib/sdk/quant/outlier.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUT = join(ROOT, 'dist', 'demo');
const FMNIST = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
/** What each sample set is, for the page: Fashion-MNIST is in distribution, the rest is not. */
const SETS = { fmnist: 'Fashion-MNIST', mnist: 'MNIST digit', notmnist: 'notMNIST letter', cifar10: 'CIFAR-10 photo' };

function randomStandIn() {
  const config = { imgSize: 28, patch: 4, inChans: 1, dim: 96, depth: 6, heads: 3, mlpHidden: 384, numClasses: 10, distilled: false, layerScale: false, noEmbedClass: false, eps: 1e-6 };
  const meta = { arch: 'vit_fmnist_patch4_28', config, labels: FMNIST, preprocessing: { mean: [0.5], std: [0.5], cropPct: 1, interpolation: 'bicubic' }, scheme: { name: 'fp32' }, extra: {} };
  return writeSafetensors(randomCheckpoint(config, 6), encodeMeta(meta));
}

/** The schemes the page's precision switch offers (index.html), in its order. */
export const DEMO_SCHEMES = ['fp32', 'w8a8', 'w4a8', 'w4a4-oa'];

/** An outlier-aware model whose plan comes from the Fashion-MNIST samples shipped with the demo. */
async function outlierAwareFromSamples(fp32, scheme, samplesDir) {
  const m = readModel(fp32);
  const c = m.meta.config;
  const files = readdirSync(samplesDir).filter((f) => /^fmnist-.*\.(png|jpe?g)$/i.test(f)).sort();
  if (!files.length) throw new Error(`no Fashion-MNIST samples in ${samplesDir} to choose the ${scheme} plan from`);
  const per = c.inChans * c.imgSize * c.imgSize;
  const images = new Float32Array(per * files.length);
  files.forEach((f, i) => {
    const d = decodeImage(new Uint8Array(readFileSync(join(samplesDir, f))));
    images.set(preprocess({ data: d.data, width: d.width, height: d.height, channels: 4 }, m.meta.preprocessing, c.imgSize, c.inChans), i * per);
  });
  const stats = await probeInputStats(m, images, files.length, { wasm: 'simd' });
  const q = quantizeOutlierAware(m, scheme, stats, { calib: { spec: 'demos/samples/fmnist-*.png', images: files.length } });
  return writeSafetensors(q.tensors, encodeMeta(q.meta));
}

export async function buildDemo({ model } = {}) {
  const candidates = model ? [model] : ['fmnist-deit', 'fmnist-deit3', 'fmnist-vit'].map((n) => join(ROOT, 'models', `${n}.safetensors`));
  const found = candidates.find((p) => existsSync(p));
  const name = found ? basename(found, '.safetensors') : 'random-fmnist-vit';
  const fp32 = found ? new Uint8Array(readFileSync(found)) : randomStandIn();
  mkdirSync(join(OUT, 'models'), { recursive: true });
  const schemes = {};
  const sizes = {};
  const samplesDir = join(ROOT, 'demos', 'samples');
  for (const scheme of DEMO_SCHEMES) {
    const file = `models/${name}-${scheme}.safetensors`;
    const shipped = found && join(ROOT, 'models', `${name}-${scheme}.safetensors`);
    let bytes = fp32;
    if (scheme !== 'fp32' && shipped && existsSync(shipped)) {
      bytes = new Uint8Array(readFileSync(shipped));
    } else if (scheme.endsWith('-oa')) {
      bytes = await outlierAwareFromSamples(fp32, scheme, samplesDir);
    } else if (scheme !== 'fp32') {
      const q = quantizeModel(readModel(fp32), { scheme }); // drops the fp32 detector: it is valid for fp32 only
      bytes = writeSafetensors(q.tensors, encodeMeta(q.meta));
    }
    writeFileSync(join(OUT, file), bytes);
    schemes[scheme] = file;
    sizes[scheme] = bytes.byteLength;
  }
  const samples = (existsSync(samplesDir) ? readdirSync(samplesDir) : [])
    .filter((f) => /\.(png|jpe?g)$/i.test(f))
    .sort()
    .map((f) => {
      // <set>-<truth>-<N>.png, where truth may itself hold '-' (T-shirt_top) and '_' stands for a space
      const parts = f.replace(/\.[^.]+$/, '').split('-');
      const set = parts[0];
      const truth = parts.slice(1, -1).join('-');
      return { file: f, url: `../../demos/samples/${f}`, set, setName: SETS[set] ?? set, truth: (truth ?? '').replace(/_/g, ' '), inDistribution: set === 'fmnist' };
    });
  const manifest = { model: name, trained: Boolean(found), schemes, sizes, samples };
  writeFileSync(join(OUT, 'manifest.json'), JSON.stringify(manifest, null, 1));
  return manifest;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--model');
  const m = await buildDemo({ model: i > 0 ? process.argv[i + 1] : undefined });
  const mib = (n) => (n / 2 ** 20).toFixed(2);
  console.log(`demo: ${m.model}${m.trained ? '' : ' (random weights: no trained model in models/ yet)'}; ` +
    Object.entries(m.sizes).map(([s, n]) => `${s} ${mib(n)} MiB`).join(', ') + `; ${m.samples.length} samples → dist/demo/`);
}
