// A small PNG encoder (8-bit grey, RGB or RGBA; zlib from fflate) for the images vitguard writes itself (heatmaps),
// so the package needs no PNG library beyond the inflate/deflate it already carries.

import { zlibSync } from 'fflate';
import { VitguardError } from '../errors.js';
import { crc32 } from './png.js';

/** width × height pixels of `channels` 8-bit samples (1 grey, 3 RGB, 4 RGBA), row-major → PNG bytes. */
export function encodePng(img: { width: number; height: number; data: ArrayLike<number>; channels: 1 | 3 | 4; depth?: 8 }): Uint8Array {
  const { width: w, height: h, channels: c } = img;
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1 || ![1, 3, 4].includes(c) || (img.depth ?? 8) !== 8 || img.data.length !== w * h * c) {
    throw new VitguardError('E_INPUT', `encodePng needs 8-bit pixels, 1, 3 or 4 channels and width·height·channels values (got ${w}×${h}×${c}, ${img.data.length} values)`);
  }
  // each row: filter type 1 (Sub: the difference from the pixel to the left), which deflates smooth images well
  const stride = w * c;
  const raw = new Uint8Array(h * (stride + 1));
  for (let y = 0; y < h; y++) {
    const o = y * (stride + 1), s = y * stride;
    raw[o] = 1;
    for (let i = 0; i < stride; i++) raw[o + 1 + i] = img.data[s + i] - (i >= c ? img.data[s + i - c] : 0);
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, w);
  v.setUint32(4, h);
  ihdr.set([8, c === 1 ? 0 : c === 3 ? 2 : 6, 0, 0, 0], 8);
  const chunks = [pngChunk('IHDR', ihdr), pngChunk('IDAT', zlibSync(raw, { level: 6 })), pngChunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(8 + chunks.reduce((n, k) => n + k.length, 0));
  out.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let o = 8;
  for (const k of chunks) { out.set(k, o); o += k.length; }
  return out;
}

/** One PNG chunk: length (as declared: data.length unless a test wants it to lie), type, data, CRC-32 of type + data. */
export function pngChunk(type: string, data: Uint8Array, declaredLength = data.length): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, declaredLength);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out, 4, 8 + data.length));
  return out;
}
