// Regenerates demos/samples/: a few Fashion-MNIST test items (in-distribution for the shipped models) and
// out-of-distribution images (MNIST digits, notMNIST letters, CIFAR-10 photos), as PNG named <set>-<truth>-<i>.png.
// Needs `npm run build:ts`, Debian's dataset-fashion-mnist and ../shared/data.  Run: node tools/make-samples.mjs
import { mkdirSync, writeFileSync } from 'node:fs';
import { encode } from 'fast-png';
import { openDataset } from '../lib/sdk/data/index.js';

const out = new URL('../demos/samples/', import.meta.url);
mkdirSync(out, { recursive: true });
const plan = [
  ['fashion-mnist:test', 'fmnist', 'first of classes 0,1,3,4,5,7,8,9'],
  ['mnist:test', 'mnist', [0, 1]],
  ['notmnist:test', 'notmnist', [0, 1]],
  ['cifar10:test', 'cifar10', [0, 1500, 7000]],
];
for (const [spec, tag, which] of plan) {
  const ds = await openDataset(spec);
  // For the in-distribution set, the first test image of each of several classes.
  const indices = Array.isArray(which) ? which
    : [0, 1, 3, 4, 5, 7, 8, 9].map((c) => ds.targets.indexOf(c));
  for (const i of indices) {
    const s = await ds.at(i);
    const label = ds.labels[s.label].replace(/[^A-Za-z0-9]+/g, '_');
    const png = encode({ width: s.width, height: s.height, data: s.pixels, channels: s.channels, depth: 8 });
    const name = `${tag}-${label}-${i}.png`;
    writeFileSync(new URL(name, out), png);
    console.log(name);
  }
}
