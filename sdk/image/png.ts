// PNG decoder (PNG spec, 3rd edition / ISO 15948): every colour type and bit depth (grey 1/2/4/8/16, RGB 8/16,
// palette 1/2/4/8 with tRNS, grey+alpha 8/16, RGBA 8/16), tRNS colour keys, Adam7 interlacing, eXIf orientation.
// Rows come out of the streaming inflater (inflate.ts) and are unfiltered one at a time (only the previous row is
// kept), then either written straight to the output or summed into an integer box filter that reduces the image by
// a whole factor, so an 8000×8000 image needs a few rows of memory, not 256 MB.
//
// Untrusted input is bounded before it is expanded: chunk lengths are checked against the file before anything is
// read, ancillary chunks other than tRNS and eXIf are skipped without being read, CRCs of the chunks we read and the
// zlib Adler-32 are checked, and the inflated size must equal what IHDR implies (more is refused within 16 KiB of
// the first extra byte, less is "truncated").

import { VitguardError } from '../errors.js';
import { inflateZlib } from './inflate.js';
import { exifOrientation, orientedRow, orientedSize, type Orientation } from './orient.js';

const corrupt = (msg: string) => new VitguardError('E_IMAGE', `corrupt PNG image: ${msg}`);

export const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Samples per pixel for each colour type (0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA). */
const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

export interface PngInfo {
  width: number;
  height: number;
  bitDepth: number;
  /** 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA. */
  colorType: number;
  /** Samples per pixel in the file (palette: 1, the index). */
  samples: number;
  interlaced: boolean;
  /** From an eXIf chunk before the image data; 1 without one. */
  orientation: Orientation;
}

// --- CRC-32 (ISO 3309, as PNG uses it) ---------------------------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** CRC-32 of b[start, end) (PNG chunks; also used by the encoder). */
export function crc32(b: Uint8Array, start = 0, end = b.length): number {
  let c = -1;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ b[i]) & 255] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

const u32 = (b: Uint8Array, p: number) => b[p] * 2 ** 24 + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);

interface Chunk { type: string; data: number; length: number; next: number }

/** The chunk at p, its length checked against the file (nothing is read beyond the 8-byte chunk header). */
function chunkAt(b: Uint8Array, p: number): Chunk {
  if (p + 8 > b.length) throw corrupt(`file ends inside a chunk header at byte ${p} (truncated)`);
  const length = u32(b, p);
  let type = '';
  for (let i = 4; i < 8; i++) {
    const c = b[p + i];
    if (!((c >= 65 && c <= 90) || (c >= 97 && c <= 122))) throw corrupt(`chunk type at byte ${p + 4} is not four letters`);
    type += String.fromCharCode(c);
  }
  if (length > 0x7fffffff) throw corrupt(`chunk ${type} declares ${length} bytes (over 2³¹ − 1)`);
  if (p + 12 + length > b.length) {
    throw corrupt(`chunk ${type} declares ${length} bytes but only ${Math.max(0, b.length - p - 12)} remain (truncated)`);
  }
  return { type, data: p + 8, length, next: p + 12 + length };
}

function checkCrc(b: Uint8Array, c: Chunk): void {
  if (crc32(b, c.data - 4, c.data + c.length) !== u32(b, c.data + c.length)) throw corrupt(`CRC mismatch in chunk ${c.type}`);
}

/** IHDR and, if one comes before the image data, the eXIf orientation. */
export function readPngInfo(b: Uint8Array): PngInfo {
  if (b.length < 8 || PNG_MAGIC.some((m, i) => b[i] !== m)) throw corrupt('no PNG signature');
  if (b.length < 33) throw corrupt(`file of ${b.length} bytes ends inside IHDR (truncated)`);
  const ihdr = chunkAt(b, 8);
  if (ihdr.type !== 'IHDR' || ihdr.length !== 13) throw corrupt('first chunk is not a 13-byte IHDR');
  checkCrc(b, ihdr);
  const p = ihdr.data;
  const width = u32(b, p), height = u32(b, p + 4);
  const bitDepth = b[p + 8], colorType = b[p + 9];
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) throw corrupt(`IHDR declares ${width}×${height} pixels`);
  if (!(colorType in SAMPLES)) throw corrupt(`colour type ${colorType}`);
  if (!DEPTHS[colorType].includes(bitDepth)) throw corrupt(`bit depth ${bitDepth} for colour type ${colorType}`);
  if (b[p + 10] !== 0 || b[p + 11] !== 0) throw corrupt(`compression method ${b[p + 10]} / filter method ${b[p + 11]}`);
  if (b[p + 12] > 1) throw corrupt(`interlace method ${b[p + 12]}`);
  let orientation: Orientation = 1;
  // eXIf is optional and must precede IDAT; a damaged chunk list here is the decoder's business, not the header's
  try {
    for (let q = ihdr.next; q < b.length;) {
      const c = chunkAt(b, q);
      if (c.type === 'IDAT' || c.type === 'IEND') break;
      if (c.type === 'eXIf') orientation = exifOrientation(b.subarray(c.data, c.data + c.length));
      q = c.next;
    }
  } catch (e) {
    if (!(e instanceof VitguardError)) throw e;
  }
  return { width, height, bitDepth, colorType, samples: SAMPLES[colorType], interlaced: b[p + 12] === 1, orientation };
}

// --- planning ---------------------------------------------------------------------------------------------------

/** The inflater's 64 KiB ring and its Huffman tables (inflate.ts): the same for every image. */
const INFLATE_WORKSPACE_BYTES = 96 * 1024;
/** Largest box factor: 255·f² must stay below 2³² in the Uint32 sums. */
const MAX_BOX = 4096;

export interface PngPlan {
  /** Box-filter factor: output = ceil(size / scale). */
  scale: number;
  /** Stored (not yet oriented) output size. */
  width: number;
  height: number;
  /** Bytes this decoder will allocate for this image at this scale. */
  bytes: number;
}

const rowBytesOf = (info: PngInfo, w: number) => Math.ceil((w * info.samples * info.bitDepth) / 8);

/**
 * The reduction factor for a short side of `short` pixels when the caller needs `minShortSide` (0 = full size): the
 * largest f with ceil(short / f) ≥ 2·minShortSide, the rule the JPEG decoder's 1/2, 1/4, 1/8 follow.
 */
export function pngScaleFor(short: number, minShortSide: number): number {
  if (!(minShortSide > 0)) return 1;
  const k = Math.ceil(2 * minShortSide); // ceil(short / f) ≥ 2·minShortSide ⇔ ceil(short / f) ≥ k ⇔ f ≤ (short − 1) / (k − 1)
  const f = k <= 1 ? short : Math.floor((short - 1) / (k - 1));
  return Math.max(1, Math.min(MAX_BOX, short, f));
}

export function planPng(info: PngInfo, scale: number): PngPlan {
  const width = Math.ceil(info.width / scale), height = Math.ceil(info.height / scale);
  let bytes = width * height * 4 + 2 * (rowBytesOf(info, info.width) + 1) + info.width * 4 + INFLATE_WORKSPACE_BYTES + 1024;
  if (scale > 1) bytes += info.interlaced ? width * height * 16 + info.width * 4 : width * 16;
  return { scale, width, height, bytes };
}

// --- decoding -----------------------------------------------------------------------------------------------------

/** Adam7: [x start, y start, x step, y step] of the 7 passes. */
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];

interface Pass { xs: number; ys: number; dx: number; dy: number; w: number; h: number }

export interface PngDecoded {
  /** RGBA, upright, width × height. */
  data: Uint8Array;
  width: number;
  height: number;
  /** 1 grey, 3 colour, 4 with alpha (grey+alpha, RGBA, or any tRNS). */
  channels: 1 | 3 | 4;
}

export function decodePng(b: Uint8Array, info: PngInfo, plan: PngPlan, orientation: Orientation): PngDecoded {
  const { width: w, height: h, bitDepth: depth, colorType } = info;
  const f = plan.scale;
  const W = plan.width, H = plan.height;
  const passes: Pass[] = (info.interlaced ? ADAM7 : [[0, 0, 1, 1]])
    .map(([xs, ys, dx, dy]) => ({ xs, ys, dx, dy, w: Math.ceil((w - xs) / dx), h: Math.ceil((h - ys) / dy) }))
    .filter((p) => p.w > 0 && p.h > 0);
  const expected = passes.reduce((s, p) => s + p.h * (1 + rowBytesOf(info, p.w)), 0);
  const bpp = Math.max(1, (info.samples * depth) >> 3); // filter unit in bytes

  // ancillary data we need before the image: palette, transparency
  let palette: Uint8Array | null = null; // RGBA per entry
  let paletteSize = 0;
  let key: number[] | null = null; // tRNS colour key in raw sample units (grey: [g], RGB: [r, g, b])
  let sawTrns = false;

  // The buffers planPng counted, allocated at the first image data (a file without any allocates nothing).
  const EMPTY = new Uint8Array(0);
  let out = EMPTY, cur = EMPTY, prev = EMPTY, rgba = EMPTY;
  let accRow: Uint32Array | null = null, accPlane: Uint32Array | null = null;
  /** Output column (×4) of each image column, for the interlaced box filter. */
  let bucket: Int32Array | null = null;
  const allocate = () => {
    out = new Uint8Array(W * H * 4);
    cur = new Uint8Array(rowBytesOf(info, w) + 1);
    prev = new Uint8Array(cur.length);
    rgba = new Uint8Array(w * 4);
    if (f > 1 && !info.interlaced) accRow = new Uint32Array(W * 4);
    if (f > 1 && info.interlaced) {
      accPlane = new Uint32Array(W * H * 4);
      bucket = Int32Array.from({ length: w }, (_, x) => Math.floor(x / f) * 4);
    }
  };

  let passIdx = 0, rowInPass = 0, filled = 0, produced = 0;
  let rowLen = passes.length ? 1 + rowBytesOf(info, passes[0].w) : 0;

  /**
   * What the sums hold per output pixel: 4 = R, G, B, A (from toRgba); or the file's own 8-bit samples, summed
   * without conversion: 1 grey, 2 grey + alpha, 3 RGB.
   */
  let sumChannels = 4;

  /** Output row oy of the box filter: sums → averages, written upright. */
  const finishBoxRow = (acc: Uint32Array, accOff: number, oy: number) => {
    const bh = Math.min(f, h - oy * f);
    const { base, step } = orientedRow(orientation, W, H, oy);
    for (let ox = 0; ox < W; ox++) {
      const n = Math.min(f, w - ox * f) * bh, half = n >> 1;
      const s = accOff + ox * 4, d = (base + ox * step) * 4;
      const c0 = ((acc[s] + half) / n) | 0;
      if (sumChannels <= 2) {
        out[d] = out[d + 1] = out[d + 2] = c0;
        out[d + 3] = sumChannels === 2 ? ((acc[s + 1] + half) / n) | 0 : 255;
      } else {
        out[d] = c0;
        out[d + 1] = ((acc[s + 1] + half) / n) | 0;
        out[d + 2] = ((acc[s + 2] + half) / n) | 0;
        out[d + 3] = sumChannels === 3 ? 255 : ((acc[s + 3] + half) / n) | 0;
      }
    }
  };

  /** One unfiltered row of pass p (image row y): to RGBA, then placed or summed. */
  const deliverRow = (p: Pass, y: number) => {
    if (f === 1) {
      const { base, step } = orientedRow(orientation, W, H, y);
      if (step === 1 && p.dx === 1) {
        toRgba(cur, p.w, depth, colorType, palette, paletteSize, key, out, (base + p.xs) * 4); // straight into place
        return;
      }
      toRgba(cur, p.w, depth, colorType, palette, paletteSize, key, rgba, 0);
      for (let j = 0; j < p.w; j++) {
        const d = (base + (p.xs + j * p.dx) * step) * 4, s = j * 4;
        out[d] = rgba[s]; out[d + 1] = rgba[s + 1]; out[d + 2] = rgba[s + 2]; out[d + 3] = rgba[s + 3];
      }
      return;
    }
    if (accRow) {
      if (depth === 8 && key === null && colorType !== 3) {
        sumSamples(cur, w, info.samples, f, accRow);
        sumChannels = info.samples;
      } else {
        toRgba(cur, p.w, depth, colorType, palette, paletteSize, key, rgba, 0);
        sumRgba(rgba, w, f, accRow);
      }
      if (y % f === f - 1 || y === h - 1) {
        finishBoxRow(accRow, 0, Math.floor(y / f));
        accRow.fill(0);
      }
      return;
    }
    toRgba(cur, p.w, depth, colorType, palette, paletteSize, key, rgba, 0);
    const acc = accPlane!, cols = bucket!;
    const rowOff = Math.floor(y / f) * W * 4;
    for (let j = 0, x = p.xs; j < p.w; j++, x += p.dx) {
      const a = rowOff + cols[x], s = j * 4;
      acc[a] += rgba[s]; acc[a + 1] += rgba[s + 1]; acc[a + 2] += rgba[s + 2]; acc[a + 3] += rgba[s + 3];
    }
  };

  const onData = (buf: Uint8Array, start: number, end: number) => {
    let off = start;
    produced += end - start;
    if (produced > expected) throw corrupt(`image data inflates to more than the ${expected} bytes IHDR implies`);
    while (off < end) {
      const take = Math.min(rowLen - filled, end - off);
      cur.set(buf.subarray(off, off + take), filled);
      filled += take;
      off += take;
      if (filled < rowLen) break;
      const p = passes[passIdx];
      unfilter(cur, prev, rowLen, bpp);
      deliverRow(p, p.ys + rowInPass * p.dy);
      const t = prev; prev = cur; cur = t;
      filled = 0;
      if (++rowInPass === p.h) {
        rowInPass = 0;
        passIdx++;
        if (passIdx < passes.length) {
          rowLen = 1 + rowBytesOf(info, passes[passIdx].w);
          prev.fill(0); // each pass starts with an all-zero previous row
        }
      }
    }
  };

  // First the chunks: palette, transparency, and where the image data is (IDAT payloads, CRC-checked, consecutive).
  const idat: number[] = [];
  let sawIdat = false, idatDone = false;
  let p = 8;
  for (;;) {
    const c = chunkAt(b, p);
    const critical = c.type.charCodeAt(0) < 97;
    if (c.type === 'IHDR') {
      if (p !== 8) throw corrupt('a second IHDR chunk');
    } else if (c.type === 'IDAT') {
      if (idatDone) throw corrupt('IDAT chunks are not consecutive');
      if (colorType === 3 && !palette) throw corrupt('palette image without a PLTE chunk before its data');
      sawIdat = true;
      checkCrc(b, c);
      idat.push(c.data, c.data + c.length);
    } else {
      if (sawIdat) idatDone = true;
      if (c.type === 'IEND') break;
      if (c.type === 'PLTE') {
        if (sawIdat) throw corrupt('PLTE after the image data');
        checkCrc(b, c);
        if (c.length % 3 !== 0 || c.length === 0 || c.length > 768) throw corrupt(`PLTE of ${c.length} bytes`);
        if (colorType === 3 || colorType === 2 || colorType === 6) {
          paletteSize = c.length / 3; // more entries than the bit depth can index are harmless: never read
          palette = new Uint8Array(256 * 4);
          for (let i = 0; i < paletteSize; i++) palette.set([b[c.data + 3 * i], b[c.data + 3 * i + 1], b[c.data + 3 * i + 2], 255], 4 * i);
        }
      } else if (c.type === 'tRNS' && !sawIdat) {
        checkCrc(b, c);
        if (colorType === 3) {
          if (!palette) throw corrupt('tRNS before PLTE');
          for (let i = 0; i < Math.min(c.length, paletteSize); i++) palette[4 * i + 3] = b[c.data + i];
          sawTrns = true;
        } else if (colorType === 0 && c.length === 2) {
          key = [(b[c.data] << 8) | b[c.data + 1]];
          sawTrns = true;
        } else if (colorType === 2 && c.length === 6) {
          key = [0, 2, 4].map((o) => (b[c.data + o] << 8) | b[c.data + o + 1]);
          sawTrns = true;
        }
        // tRNS for grey+alpha / RGBA, or of the wrong length, is invalid: ignored as libpng does
      } else if (critical) {
        throw corrupt(`unknown critical chunk ${c.type}`);
      }
      // every other ancillary chunk (iCCP, zTXt, tEXt, iTXt, gAMA, eXIf, …) is skipped unread
    }
    p = c.next;
    if (p >= b.length) break;
  }
  if (!sawIdat) throw corrupt('no image data (IDAT)');
  // Then the pixels, streamed row by row out of the inflater (bounded by what IHDR implies)
  allocate();
  inflateZlib(b, idat, expected, onData);
  if (produced < expected) throw corrupt(`image data ends after ${produced} of ${expected} bytes (truncated)`);
  if (accPlane) for (let oy = 0; oy < H; oy++) finishBoxRow(accPlane, oy * W * 4, oy);
  const channels: 1 | 3 | 4 = colorType === 4 || colorType === 6 || sawTrns ? 4 : colorType === 0 ? 1 : 3;
  return { data: out, channels, ...orientedSize(orientation, W, H) };
}

/** Box sums of an RGBA row: f consecutive pixels per output column, summed in registers, then added to acc[4·ox + c]. */
function sumRgba(rgba: Uint8Array, w: number, f: number, acc: Uint32Array): void {
  for (let ox = 0, x = 0; x < w; ox++) {
    let r = 0, g = 0, b = 0, a = 0;
    for (const end = Math.min(w, x + f); x < end; x++) {
      const s = x * 4;
      r += rgba[s]; g += rgba[s + 1]; b += rgba[s + 2]; a += rgba[s + 3];
    }
    const d = ox * 4;
    acc[d] += r; acc[d + 1] += g; acc[d + 2] += b; acc[d + 3] += a;
  }
}

/** Box sums straight from an unfiltered 8-bit row (row[1..]) of `spp` samples per pixel, into acc[4·ox + c]. */
function sumSamples(row: Uint8Array, w: number, spp: number, f: number, acc: Uint32Array): void {
  if (spp === 1) {
    for (let ox = 0, x = 1; x <= w; ox++) {
      let g = 0;
      for (const end = Math.min(w + 1, x + f); x < end; x++) g += row[x];
      acc[ox * 4] += g;
    }
    return;
  }
  for (let ox = 0, x = 0; x < w; ox++) {
    const end = Math.min(w, x + f);
    for (let c = 0; c < spp; c++) {
      let s = 0;
      for (let i = 1 + x * spp + c, e = 1 + end * spp; i < e; i += spp) s += row[i];
      acc[ox * 4 + c] += s;
    }
    x = end;
  }
}

/** Undo the row filter in place (cur[0] is the filter type; prev is the unfiltered previous row, zeros for the first). */
function unfilter(cur: Uint8Array, prev: Uint8Array, len: number, bpp: number): void {
  const type = cur[0];
  switch (type) {
    case 0: return;
    case 1:
      for (let i = 1 + bpp; i < len; i++) cur[i] += cur[i - bpp];
      return;
    case 2:
      for (let i = 1; i < len; i++) cur[i] += prev[i];
      return;
    case 3:
      for (let i = 1; i <= bpp && i < len; i++) cur[i] += prev[i] >> 1;
      for (let i = 1 + bpp; i < len; i++) cur[i] += (cur[i - bpp] + prev[i]) >> 1;
      return;
    case 4:
      for (let i = 1; i <= bpp && i < len; i++) cur[i] += prev[i]; // Paeth with a = c = 0 picks b
      for (let i = 1 + bpp; i < len; i++) {
        const a = cur[i - bpp], bb = prev[i], c = prev[i - bpp];
        // |p − a|, |p − b|, |p − c| for p = a + b − c, with branch-free absolute values
        let pa = bb - c, pb = a - c, pc = pa + pb;
        pa = (pa ^ (pa >> 31)) - (pa >> 31);
        pb = (pb ^ (pb >> 31)) - (pb >> 31);
        pc = (pc ^ (pc >> 31)) - (pc >> 31);
        cur[i] += pa <= pb && pa <= pc ? a : pb <= pc ? bb : c;
      }
      return;
    default:
      throw corrupt(`row filter type ${type}`);
  }
}

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * One unfiltered row (row[1..]) of n pixels → RGBA8 in out[0..4n). 16-bit samples become round(v·255/65535) =
 * floor((2v + 257) / 514); 1/2/4-bit grey is scaled by 255, 85, 17; a tRNS key (raw sample values) makes alpha 0.
 */
function toRgba(row: Uint8Array, n: number, depth: number, colorType: number, palette: Uint8Array | null, paletteSize: number, key: number[] | null, dst: Uint8Array, o: number): void {
  const out = o === 0 && dst.length === 4 * n ? dst : dst.subarray(o, o + 4 * n);
  const s16 = (i: number) => (row[i] << 8) | row[i + 1];
  const to8 = (v: number) => ((2 * v + 257) / 514) | 0;
  if (depth < 8) {
    const mask = (1 << depth) - 1, scale = 255 / mask;
    for (let x = 0; x < n; x++) {
      const bit = x * depth;
      const v = (row[1 + (bit >> 3)] >> (8 - depth - (bit & 7))) & mask;
      if (colorType === 3) {
        if (v >= paletteSize) throw corrupt(`palette index ${v} with ${paletteSize} palette entries`);
        out[4 * x] = palette![4 * v]; out[4 * x + 1] = palette![4 * v + 1]; out[4 * x + 2] = palette![4 * v + 2]; out[4 * x + 3] = palette![4 * v + 3];
      } else {
        const g = v * scale;
        out[4 * x] = out[4 * x + 1] = out[4 * x + 2] = g;
        out[4 * x + 3] = key && v === key[0] ? 0 : 255;
      }
    }
    return;
  }
  if (depth === 8 && key === null && LITTLE_ENDIAN && (colorType === 0 || colorType === 2) && (out.byteOffset & 3) === 0) {
    // the common opaque cases, one 32-bit store per pixel (A in the high byte on little-endian machines)
    const px = new Uint32Array(out.buffer, out.byteOffset, n);
    if (colorType === 0) for (let x = 0; x < n; x++) px[x] = 0xff000000 | (row[1 + x] * 0x010101);
    else for (let x = 0, i = 1; x < n; x++, i += 3) px[x] = 0xff000000 | row[i] | (row[i + 1] << 8) | (row[i + 2] << 16);
    return;
  }
  switch (colorType) {
    case 0:
      for (let x = 0; x < n; x++) {
        const v = depth === 8 ? row[1 + x] : s16(1 + 2 * x);
        const g = depth === 8 ? v : to8(v);
        out[4 * x] = out[4 * x + 1] = out[4 * x + 2] = g;
        out[4 * x + 3] = key && v === key[0] ? 0 : 255;
      }
      return;
    case 2:
      for (let x = 0; x < n; x++) {
        let r: number, g: number, bl: number;
        if (depth === 8) { r = row[1 + 3 * x]; g = row[2 + 3 * x]; bl = row[3 + 3 * x]; } else { r = s16(1 + 6 * x); g = s16(3 + 6 * x); bl = s16(5 + 6 * x); }
        const a = key && r === key[0] && g === key[1] && bl === key[2] ? 0 : 255;
        if (depth === 16) { r = to8(r); g = to8(g); bl = to8(bl); }
        out[4 * x] = r; out[4 * x + 1] = g; out[4 * x + 2] = bl; out[4 * x + 3] = a;
      }
      return;
    case 3:
      for (let x = 0; x < n; x++) {
        const v = row[1 + x];
        if (v >= paletteSize) throw corrupt(`palette index ${v} with ${paletteSize} palette entries`);
        out[4 * x] = palette![4 * v]; out[4 * x + 1] = palette![4 * v + 1]; out[4 * x + 2] = palette![4 * v + 2]; out[4 * x + 3] = palette![4 * v + 3];
      }
      return;
    case 4:
      for (let x = 0; x < n; x++) {
        const g = depth === 8 ? row[1 + 2 * x] : to8(s16(1 + 4 * x));
        out[4 * x] = out[4 * x + 1] = out[4 * x + 2] = g;
        out[4 * x + 3] = depth === 8 ? row[2 + 2 * x] : to8(s16(3 + 4 * x));
      }
      return;
    case 6:
      if (depth === 8) out.set(row.subarray(1, 1 + 4 * n));
      else for (let i = 0; i < 4 * n; i++) out[i] = to8(s16(1 + 2 * i));
      return;
  }
}
