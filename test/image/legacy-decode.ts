// The decoders vitguard used before sdk/image/png.ts and jpeg.ts (npm fast-png and jpeg-js, whole image at full
// size), kept as the reference the new decoders are tested against (PNG: bit for bit; JPEG: within IDCT rounding) and
// as the "old" side of bench/decode.ts. fast-png and jpeg-js are devDependencies for this file only.

import { decode as decodePng, convertIndexedToRgb } from 'fast-png';
import jpeg from 'jpeg-js';

export interface LegacyImage { data: Uint8Array; width: number; height: number; channels: 1 | 3 | 4; format: 'png' | 'jpeg' }

export function legacyDecode(bytes: Uint8Array): LegacyImage {
  return bytes[0] === 0x89 ? legacyDecodePng(bytes) : legacyDecodeJpeg(bytes);
}

// --- PNG -----------------------------------------------------------------------------------------------------

export function legacyDecodePng(bytes: Uint8Array): LegacyImage {
  const png = decodePng(bytes);
  const { width, height, depth } = png;
  const n = width * height;
  if (n > 100_000_000) throw new Error(`PNG too large: ${width}×${height} pixels`); // after decoding, as it was
  const rgba = new Uint8Array(n * 4);

  if (png.palette) {
    // Indexed colour: palette entries are [r,g,b] or [r,g,b,a] (a from tRNS).
    const rgb = convertIndexedToRgb(png);
    const pc = png.palette[0]?.length ?? 3;
    for (let i = 0; i < n; i++) {
      rgba[4 * i] = rgb[pc * i];
      rgba[4 * i + 1] = rgb[pc * i + 1];
      rgba[4 * i + 2] = rgb[pc * i + 2];
      rgba[4 * i + 3] = pc === 4 ? rgb[pc * i + 3] : 255;
    }
    return { data: rgba, width, height, channels: pc === 4 ? 4 : 3, format: 'png' };
  }

  const c = png.channels; // 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA
  const samples = unpackSamples(png.data, width, height, c, depth); // n·c values, 0..255
  const key = png.transparency && png.transparency.length > 0 ? png.transparency : undefined; // tRNS colour key (raw sample units)
  for (let i = 0; i < n; i++) {
    const s = i * c;
    let r: number, g: number, b: number, a: number;
    if (c === 1 || c === 2) {
      r = g = b = samples[s];
      a = c === 2 ? samples[s + 1] : 255;
    } else {
      r = samples[s];
      g = samples[s + 1];
      b = samples[s + 2];
      a = c === 4 ? samples[s + 3] : 255;
    }
    if (key && (c === 1 || c === 3) && matchesKey(png.data, width, c, depth, i, key)) a = 0;
    rgba[4 * i] = r;
    rgba[4 * i + 1] = g;
    rgba[4 * i + 2] = b;
    rgba[4 * i + 3] = a;
  }
  const channels: 1 | 3 | 4 = c === 2 || c === 4 || key ? 4 : c === 1 ? 1 : 3;
  return { data: rgba, width, height, channels, format: 'png' };
}

/** PNG samples (any bit depth; depth < 8 is packed per row, 16 is a Uint16Array) → one 8-bit value per sample. */
function unpackSamples(data: ArrayLike<number>, width: number, height: number, c: number, depth: number): Uint8Array {
  const out = new Uint8Array(width * height * c);
  if (depth === 8) {
    out.set(data as ArrayLike<number>);
  } else if (depth === 16) {
    // 16 → 8 bits with rounding: v·255/65535.
    for (let i = 0; i < out.length; i++) out[i] = Math.round((data[i] * 255) / 65535);
  } else {
    // depth 1, 2, 4: only grey (c = 1) is allowed by the PNG spec; rows are byte-aligned.
    const rowBytes = Math.ceil((width * depth) / 8);
    const scale = 255 / ((1 << depth) - 1);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const bit = x * depth;
        const byte = data[y * rowBytes + (bit >> 3)];
        const v = (byte >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
        out[y * width + x] = Math.round(v * scale);
      }
    }
  }
  return out;
}

function rawSample(data: ArrayLike<number>, width: number, depth: number, idx: number): number {
  if (depth >= 8) return data[idx];
  const pixel = idx; // c = 1 for depth < 8
  const y = Math.floor(pixel / width);
  const x = pixel - y * width;
  const rowBytes = Math.ceil((width * depth) / 8);
  const bit = x * depth;
  return (data[y * rowBytes + (bit >> 3)] >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
}

function matchesKey(data: ArrayLike<number>, width: number, c: number, depth: number, i: number, key: Uint16Array): boolean {
  for (let k = 0; k < c; k++) if (rawSample(data, width, depth, i * c + k) !== key[k]) return false;
  return true;
}

// --- JPEG ----------------------------------------------------------------------------------------------------

export function legacyDecodeJpeg(bytes: Uint8Array, opts: { colorTransform?: boolean } = {}): LegacyImage {
  const components = jpegComponentCount(bytes);
  const img = jpeg.decode(bytes, {
    useTArray: true,
    formatAsRGBA: true,
    tolerantDecoding: false,
    maxResolutionInMP: 100,
    ...opts,
    maxMemoryUsageInMB: 1024,
  });
  const data = img.data instanceof Uint8Array ? img.data : new Uint8Array(img.data);
  if (data.length !== img.width * img.height * 4) throw new Error(`decoded ${data.length} bytes for ${img.width}×${img.height}`);
  return { data, width: img.width, height: img.height, channels: components === 1 ? 1 : 3, format: 'jpeg' };
}

/** Number of colour components in a JPEG's SOFn segment (1 = grey, 3 = YCbCr, 4 = CMYK). */
function jpegComponentCount(bytes: Uint8Array): number {
  let p = 2; // after FF D8
  while (p + 4 <= bytes.length) {
    if (bytes[p] !== 0xff) throw new Error(`no marker at byte ${p}`);
    const marker = bytes[p + 1];
    if (marker === 0xff) {
      p += 1; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      p += 2; // markers without a length
      continue;
    }
    const len = (bytes[p + 2] << 8) | bytes[p + 3];
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (p + 9 >= bytes.length) break;
      return bytes[p + 9];
    }
    if (marker === 0xda || marker === 0xd9) break; // scan data or end before any frame header
    p += 2 + len;
  }
  throw new Error('no frame header (SOF) found');
}
