#!/usr/bin/env node
// Regenerate test/fixtures/data/fashion-mnist/: the first COUNT images and labels of the Fashion-MNIST train and
// test idx files, gzipped, so `npm test` does not need the Debian package.
//   apt-get install -y dataset-fashion-mnist
//   node tools/make-fixtures.mjs [--src /usr/share/datasets/fashion-mnist] [--count 200]
// Output is byte-for-byte reproducible (gzip level 9, no file name, mtime 0).

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const src = resolve(opt('--src', process.env.VITGUARD_FMNIST ?? '/usr/share/datasets/fashion-mnist'));
const count = Number(opt('--count', '200'));
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'test/fixtures/data/fashion-mnist');

function readIdx(path) {
  let bytes;
  try {
    bytes = readFileSync(path);
  } catch {
    console.error(`cannot read ${path}: install Fashion-MNIST with \`apt-get install -y dataset-fashion-mnist\` or pass --src DIR`);
    process.exit(1);
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  return bytes;
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

mkdirSync(out, { recursive: true });
for (const prefix of ['train', 't10k']) {
  for (const kind of ['images-idx3', 'labels-idx1']) {
    const name = `${prefix}-${kind}-ubyte`;
    const path = join(src, name + '.gz');
    const gz = gzipSync(headIdx(readIdx(path), count, path), { level: 9 });
    writeFileSync(join(out, name + '.gz'), gz);
    console.log(`${join(out, name + '.gz')}: ${count} items, ${gz.length} bytes`);
  }
}
