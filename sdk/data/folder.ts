// ImageFolder reader (Node): ROOT/<class>/<image>.png|jpg|jpeg, labels = class folder names sorted by code unit
// (as Python's sorted(), which torchvision's ImageFolder uses), label i = i-th name.
// Nothing is skipped silently: a stray file in ROOT, a sub-folder inside a class folder, a file whose name is not
// .png/.jpg/.jpeg, an empty class folder or a ROOT with no class folder is an E_DATA error naming the path.
// Only dotfiles (.DS_Store, .gitkeep, ...) are ignored. Images are decoded lazily (format sniffed from bytes);
// one that cannot be decoded is an E_DATA error naming the file when it is read. The first image is decoded at
// open time to fix the set's nominal size and channel count.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { VitguardError } from '../errors.js';
import { decodeImage, type DecodedImage } from '../image/decode.js';
import { isDirectory } from './node.js';

export const IMAGE_EXTENSIONS = /\.(png|jpe?g)$/i;

export interface FolderIndex {
  root: string;
  classes: string[];
  /** Absolute file paths, class by class, files sorted by name within a class. */
  files: string[];
  /** Label (index into classes) of each file. */
  targets: Int32Array;
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function kindOf(p: string): 'dir' | 'file' | 'other' {
  const s = statSync(p); // follows symlinks
  return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other';
}

/** List an ImageFolder tree and check its layout. Reads no image bytes. */
export function indexImageFolder(rootIn: string): FolderIndex {
  const root = resolve(rootIn);
  if (!isDirectory(root)) throw new VitguardError('E_DATA', `image folder not found or not a folder: ${root}`);
  const classes: string[] = [];
  for (const name of readdirSync(root).sort(byCodeUnit)) {
    if (name.startsWith('.')) continue;
    const p = join(root, name);
    if (kindOf(p) !== 'dir') {
      throw new VitguardError('E_DATA', `stray file ${p} in image folder ${root}: expected only one sub-folder per class`);
    }
    classes.push(name);
  }
  if (classes.length === 0) throw new VitguardError('E_DATA', `image folder ${root} is empty: expected one sub-folder per class`);

  const files: string[] = [];
  const targets: number[] = [];
  classes.forEach((cls, label) => {
    const dir = join(root, cls);
    let count = 0;
    for (const name of readdirSync(dir).sort(byCodeUnit)) {
      if (name.startsWith('.')) continue;
      const p = join(dir, name);
      const k = kindOf(p);
      if (k !== 'file') throw new VitguardError('E_DATA', `${p} is not an image file (nested folders are not read)`);
      if (!IMAGE_EXTENSIONS.test(name)) {
        throw new VitguardError('E_DATA', `${p} is not a PNG or JPEG file (.png, .jpg, .jpeg); remove it or move it out of ${root}`);
      }
      files.push(p);
      targets.push(label);
      count++;
    }
    if (count === 0) throw new VitguardError('E_DATA', `class folder ${dir} holds no images`);
  });
  return { root, classes, files, targets: Int32Array.from(targets) };
}

/** Decode one image file; any failure is E_DATA naming the file (the E_IMAGE error is kept as the cause). */
export function decodeImageBytesOf(path: string, bytes: Uint8Array): DecodedImage {
  try {
    return decodeImage(bytes);
  } catch (e) {
    throw new VitguardError('E_DATA', `unreadable image ${path}: ${(e as Error).message}`, { cause: e });
  }
}

export async function readImageFile(path: string): Promise<DecodedImage> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new VitguardError('E_DATA', `cannot read image ${path}: ${(e as Error).message}`, { cause: e });
  }
  return decodeImageBytesOf(path, bytes);
}

export function readImageFileSync(path: string): DecodedImage {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new VitguardError('E_DATA', `cannot read image ${path}: ${(e as Error).message}`, { cause: e });
  }
  return decodeImageBytesOf(path, bytes);
}
