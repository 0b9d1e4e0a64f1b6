// The idx parser (pure, on bytes) and its file reader: magic, sizes, truncation, count mismatch, gzip.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, test } from 'vitest';
import { VitguardError } from '../../sdk/errors.js';
import { encodeIdx, parseIdx, parseIdxPair, type IdxImages, type IdxLabels } from '../../sdk/data/idx.js';
import { readIdxFile } from '../../sdk/data/node.js';
import { openDataset } from '../../sdk/data/index.js';

function expectDataError(fn: () => unknown, ...fragments: string[]): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(VitguardError);
    expect((e as VitguardError).code).toBe('E_DATA');
    for (const f of fragments) expect((e as Error).message).toContain(f);
    return;
  }
  throw new Error('expected an E_DATA error');
}

// 3 images of 2×4, pixel value = 10·image + position; labels 7, 8, 9.
const pixels = Uint8Array.from({ length: 3 * 2 * 4 }, (_, i) => 10 * Math.floor(i / 8) + (i % 8));
const imagesBytes = encodeIdx([3, 2, 4], pixels);
const labelsBytes = encodeIdx([3], Uint8Array.of(7, 8, 9));

describe('parseIdx', () => {
  test('reads images and labels written by encodeIdx', () => {
    expect(Array.from(imagesBytes.subarray(0, 16))).toEqual([0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 4]);
    const im = parseIdx(imagesBytes, 'im', 'images') as IdxImages;
    expect([im.kind, im.count, im.rows, im.cols]).toEqual(['images', 3, 2, 4]);
    expect(im.data[8 + 5]).toBe(15); // image 1, row 1, col 1
    const lb = parseIdx(labelsBytes, 'lb') as IdxLabels;
    expect([lb.kind, lb.count, Array.from(lb.data)]).toEqual(['labels', 3, [7, 8, 9]]);
  });

  test('wrong magic names the file and the magic', () => {
    const bad = imagesBytes.slice();
    bad[3] = 0x04; // 2052
    expectDataError(() => parseIdx(bad, 'x-images.idx'), 'x-images.idx', 'magic 2052');
    expectDataError(() => parseIdx(labelsBytes, 'lab.idx', 'images'), 'lab.idx', 'expected images');
  });

  test('truncated header and truncated data', () => {
    expectDataError(() => parseIdx(imagesBytes.subarray(0, 5), 'h.idx'), 'h.idx', 'truncated');
    expectDataError(() => parseIdx(imagesBytes.subarray(0, 12), 'h2.idx'), 'h2.idx', 'truncated');
    expectDataError(() => parseIdx(imagesBytes.subarray(0, imagesBytes.length - 1), 'd.idx'), 'd.idx', 'truncated', '3 images of 2×4');
    expectDataError(() => parseIdx(labelsBytes.subarray(0, 10), 'l.idx'), 'l.idx', 'truncated');
  });

  test('trailing bytes and zero dimensions are rejected', () => {
    const long = new Uint8Array(labelsBytes.length + 2);
    long.set(labelsBytes);
    expectDataError(() => parseIdx(long, 'long.idx'), 'long.idx', '2 trailing bytes');
    expectDataError(() => parseIdx(encodeIdx([0, 0, 4], new Uint8Array(0)), 'z.idx'), 'z.idx', '0×4');
  });

  test('count mismatch between images and labels names both files', () => {
    const twoLabels = encodeIdx([2], Uint8Array.of(1, 2));
    expectDataError(() => parseIdxPair(imagesBytes, twoLabels, 'a-images', 'a-labels'), 'a-images', 'a-labels', '3 images', '2 labels');
  });

  test('gzip bytes are refused by the pure parser', () => {
    expectDataError(() => parseIdx(gzipSync(imagesBytes), 'g.idx'), 'g.idx', 'gunzip');
  });
});

describe('idx files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vitguard-idx-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('readIdxFile reads gzip and raw files alike', () => {
    writeFileSync(join(dir, 'raw'), imagesBytes);
    writeFileSync(join(dir, 'gz'), gzipSync(imagesBytes));
    const a = readIdxFile(join(dir, 'raw')) as IdxImages;
    const b = readIdxFile(join(dir, 'gz')) as IdxImages;
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    expect(b.count).toBe(3);
  });

  test('a truncated .gz file is an E_DATA naming it', () => {
    const gz = gzipSync(imagesBytes);
    writeFileSync(join(dir, 'cut.gz'), gz.subarray(0, gz.length - 9));
    expectDataError(() => readIdxFile(join(dir, 'cut.gz')), 'cut.gz', 'gzip');
  });

  test('openDataset over corrupt idx files names the file', async () => {
    const mk = (name: string, images: Uint8Array, labels: Uint8Array) => {
      const d = join(dir, name);
      rmSync(d, { recursive: true, force: true });
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 't10k-images-idx3-ubyte'), images);
      writeFileSync(join(d, 't10k-labels-idx1-ubyte.gz'), gzipSync(labels));
      return d;
    };
    const mismatch = mk('mismatch', imagesBytes, encodeIdx([4], Uint8Array.of(1, 2, 3, 4)));
    await expect(openDataset('fashion-mnist:test', { fashionMnistDir: mismatch })).rejects.toThrow(
      /count mismatch: .*mismatch\/t10k-images-idx3-ubyte holds 3 images but .*t10k-labels-idx1-ubyte\.gz holds 4 labels/,
    );
    const badMagic = imagesBytes.slice();
    badMagic[2] = 9;
    const wrong = mk('wrongmagic', badMagic, labelsBytes);
    await expect(openDataset('fashion-mnist:test', { fashionMnistDir: wrong })).rejects.toThrow(/wrongmagic\/t10k-images-idx3-ubyte: not an idx/);
    const cut = mk('cut', imagesBytes.subarray(0, 30), labelsBytes);
    await expect(openDataset('mnist:test', { mnistDir: cut })).rejects.toThrow(/cut\/t10k-images-idx3-ubyte: truncated/);
    // Fashion-MNIST has 10 classes: a label byte of 12 is corrupt data.
    const badLabel = mk('badlabel', imagesBytes, encodeIdx([3], Uint8Array.of(1, 12, 3)));
    await expect(openDataset('fashion-mnist:test', { fashionMnistDir: badLabel })).rejects.toMatchObject({
      code: 'E_DATA',
      message: expect.stringContaining('label 12 of item 1'),
    });
  });
});
