// The idx format (MNIST, Fashion-MNIST, notMNIST): big-endian u32 magic, u32 count, then for images u32 rows,
// u32 cols; then one unsigned byte per value, row-major.
//   magic 2051 = 0x00000803: ubyte, 3 dims (images [count, rows, cols])
//   magic 2049 = 0x00000801: ubyte, 1 dim  (labels [count])
// parseIdx / parseIdxPair are pure functions on bytes (no node:fs, no zlib); the caller gunzips first
// (readIdxFile in ./node.ts does). encodeIdx writes the same format (fixtures, tests).

import { VitguardError } from '../errors.js';

export const IDX_MAGIC_IMAGES = 2051;
export const IDX_MAGIC_LABELS = 2049;

export interface IdxImages {
  kind: 'images';
  count: number;
  rows: number;
  cols: number;
  /** count·rows·cols bytes, image-major then row-major; a view into the input bytes. */
  data: Uint8Array;
}

export interface IdxLabels {
  kind: 'labels';
  count: number;
  /** count bytes; a view into the input bytes. */
  data: Uint8Array;
}

export type IdxArray = IdxImages | IdxLabels;

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function u32be(b: Uint8Array, off: number): number {
  return ((b[off] << 24) >>> 0) + (b[off + 1] << 16) + (b[off + 2] << 8) + b[off + 3];
}

/**
 * Parse raw (un-gzipped) idx bytes. `name` (a file name) is used only in error messages.
 * `expect` restricts the kind. Checks magic, header length, dimensions and the exact data length.
 */
export function parseIdx(bytes: Uint8Array, name: string, expect?: 'images' | 'labels'): IdxArray {
  if (isGzip(bytes)) {
    throw new VitguardError('E_DATA', `${name}: gzip-compressed idx given to parseIdx; gunzip it first (readIdxFile does)`);
  }
  if (bytes.length < 8) throw new VitguardError('E_DATA', `${name}: truncated idx file (${bytes.length} bytes, header needs 8)`);
  const magic = u32be(bytes, 0);
  if (magic !== IDX_MAGIC_IMAGES && magic !== IDX_MAGIC_LABELS) {
    throw new VitguardError(
      'E_DATA',
      `${name}: not an idx ubyte file (magic ${magic} = 0x${magic.toString(16).padStart(8, '0')}, ` +
        `expected ${IDX_MAGIC_IMAGES} for images or ${IDX_MAGIC_LABELS} for labels)`,
    );
  }
  const kind = magic === IDX_MAGIC_IMAGES ? 'images' : 'labels';
  if (expect && kind !== expect) {
    throw new VitguardError('E_DATA', `${name}: idx file holds ${kind} (magic ${magic}), expected ${expect}`);
  }
  const count = u32be(bytes, 4);
  if (kind === 'labels') {
    const expected = 8 + count;
    if (bytes.length < expected) {
      throw new VitguardError('E_DATA', `${name}: truncated idx labels: ${bytes.length} bytes, header says ${count} labels (${expected} bytes)`);
    }
    if (bytes.length > expected) {
      throw new VitguardError('E_DATA', `${name}: idx labels file has ${bytes.length - expected} trailing bytes after ${count} labels`);
    }
    return { kind, count, data: bytes.subarray(8, expected) };
  }
  if (bytes.length < 16) throw new VitguardError('E_DATA', `${name}: truncated idx images header (${bytes.length} bytes, needs 16)`);
  const rows = u32be(bytes, 8);
  const cols = u32be(bytes, 12);
  if (rows === 0 || cols === 0 || rows > 65536 || cols > 65536) {
    throw new VitguardError('E_DATA', `${name}: implausible idx image size ${rows}×${cols}`);
  }
  const expected = 16 + count * rows * cols;
  if (bytes.length < expected) {
    throw new VitguardError(
      'E_DATA',
      `${name}: truncated idx images: ${bytes.length} bytes, header says ${count} images of ${rows}×${cols} (${expected} bytes)`,
    );
  }
  if (bytes.length > expected) {
    throw new VitguardError('E_DATA', `${name}: idx images file has ${bytes.length - expected} trailing bytes after ${count} images`);
  }
  return { kind, count, rows, cols, data: bytes.subarray(16, expected) };
}

/** Parse an images file and a labels file together; their counts must agree. */
export function parseIdxPair(
  imageBytes: Uint8Array,
  labelBytes: Uint8Array,
  imageName: string,
  labelName: string,
): { images: IdxImages; labels: IdxLabels } {
  const images = parseIdx(imageBytes, imageName, 'images') as IdxImages;
  const labels = parseIdx(labelBytes, labelName, 'labels') as IdxLabels;
  if (images.count !== labels.count) {
    throw new VitguardError(
      'E_DATA',
      `count mismatch: ${imageName} holds ${images.count} images but ${labelName} holds ${labels.count} labels`,
    );
  }
  return { images, labels };
}

/** Write an idx ubyte file: dims [count] → labels (2049), [count, rows, cols] → images (2051). Raw, not gzipped. */
export function encodeIdx(dims: [number] | [number, number, number], data: Uint8Array): Uint8Array {
  const n = dims.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new VitguardError('E_INPUT', `encodeIdx: dims ${dims.join('×')} need ${n} bytes, got ${data.length}`);
  const header = 4 + 4 * dims.length;
  const out = new Uint8Array(header + n);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, dims.length === 3 ? IDX_MAGIC_IMAGES : IDX_MAGIC_LABELS, false);
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  out.set(data, header);
  return out;
}
