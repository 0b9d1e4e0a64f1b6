// Image decoding within a budget: PNG and JPEG bytes → 8-bit RGBA, upright, and reduced when the caller needs far
// fewer pixels than the file holds. Pure functions on bytes (no node:fs), so browsers and Cloudflare Workers use them.
// The format is sniffed from magic bytes, never from a file name.
//
// Untrusted images are bounded before they are expanded: the header (PNG IHDR, JPEG SOFn) gives the declared size,
// which must fit `maxPixels`; the plan for this image at its reduction (output, row buffers, coefficient planes,
// inflate workspace) must fit `maxDecodeBytes`. Either check fails with E_IMAGE_TOO_LARGE before any pixel buffer is
// allocated. Both decoders are our own (jpeg.ts, png.ts): neither ever holds a full-size image it was asked to reduce.

import { VitguardError } from '../errors.js';
import { decodeJpeg, planJpeg, readJpegInfo, type JpegInfo } from './jpeg.js';
import { orientedSize, type Orientation } from './orient.js';
import { decodePng, planPng, pngScaleFor, readPngInfo, PNG_MAGIC, type PngInfo } from './png.js';

export type { Orientation } from './orient.js';

export interface DecodedImage {
  /** RGBA, 8 bits per channel, row-major: length width·height·4. Grey images have R = G = B; opaque ones A = 255. */
  data: Uint8Array;
  /** Size of `data`: upright (EXIF orientation applied) and reduced by `scale`. */
  width: number;
  height: number;
  /** Channels the file itself holds: 1 = grey, 3 = colour, 4 = with alpha (PNG grey+alpha counts as 4). */
  channels: 1 | 3 | 4;
  format: 'png' | 'jpeg';
  /** Size the file declares, as stored (before orientation). */
  sourceWidth: number;
  sourceHeight: number;
  /** Reduction: each side is ceil(source / scale). JPEG 1, 2, 4 or 8 (scaled IDCT); PNG any whole box factor. */
  scale: number;
  /** The file's EXIF orientation (1..8, 1 = upright or none); applied to `data` unless autoOrient was false. */
  orientation: Orientation;
}

/** What the header says, read without decoding a pixel. */
export interface ImageHeader {
  format: 'png' | 'jpeg';
  /** As stored (before orientation). */
  width: number;
  height: number;
  /** Samples per pixel in the file: PNG 1 grey or palette index, 2 grey+alpha, 3 RGB, 4 RGBA; JPEG components 1, 3, 4. */
  channels: number;
  /** Bits per sample: PNG 1, 2, 4, 8, 16; JPEG the frame precision (8; 12 is reported but not decoded). */
  bitDepth: number;
  color: 'grey' | 'grey+alpha' | 'rgb' | 'rgba' | 'palette' | 'ycbcr' | 'cmyk' | 'ycck';
  /** PNG Adam7 interlacing. */
  interlaced: boolean;
  /** JPEG progressive (SOF2). */
  progressive: boolean;
  /** EXIF orientation 1..8 (JPEG APP1, PNG eXIf before the image data); 1 without one. */
  orientation: Orientation;
}

export interface ImageLimits {
  /** Most pixels a file may declare (width × height), checked from the header. Default DEFAULT_MAX_PIXELS. */
  maxPixels?: number;
  /** Most bytes the decoder may allocate for one image (computed from the header before decoding). Default DEFAULT_MAX_DECODE_BYTES. */
  maxDecodeBytes?: number;
}

export interface DecodeOptions extends ImageLimits {
  /**
   * The smallest short side the caller needs (a model resizing the short side to floor(imgSize / cropPct) passes
   * that). A file whose short side is about 4× this or more is decoded reduced, its short side still ≥ 2× this, so
   * an antialiased resize afterwards sees nearly the same picture. 0 or absent: full size.
   */
  minShortSide?: number;
  /** Apply the EXIF orientation so the image comes out upright. Default true. */
  autoOrient?: boolean;
}

/**
 * Default pixel limit: 120 megapixels. A 108 MP phone photo (12000×9000) passes; the decoders reduce it while
 * decoding, so the pixel count bounds time (every compressed byte is still read), not memory.
 */
export const DEFAULT_MAX_PIXELS = 120_000_000;
/**
 * Default decode memory: 512 MiB. Reduced decodes of the largest photos under DEFAULT_MAX_PIXELS need far less (a
 * 108 MP progressive JPEG at 1/4 scale ≈ 90 MB); a full-size decode (no minShortSide) of up to ~100 MP baseline JPEG
 * or PNG fits. Lower it where memory is scarce (EDGE_IMAGE_LIMITS).
 */
export const DEFAULT_MAX_DECODE_BYTES = 512 * 1024 * 1024;
/**
 * Limits for a 128 MB Cloudflare isolate (what the Worker demo uses): 50 MP covers 48–50 MP phone photos; 24 MiB
 * holds a 50 MP progressive JPEG's coefficients at 1/8 scale and leaves room for the model and the request body.
 */
export const EDGE_IMAGE_LIMITS: Readonly<Required<ImageLimits>> = Object.freeze({ maxPixels: 50_000_000, maxDecodeBytes: 24 * 1024 * 1024 });

/** @deprecated the old fixed limit; use DEFAULT_MAX_PIXELS or pass maxPixels. */
export const MAX_IMAGE_PIXELS = DEFAULT_MAX_PIXELS;

export function sniffImageFormat(bytes: Uint8Array): 'png' | 'jpeg' | undefined {
  if (bytes.length >= 8 && PNG_MAGIC.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

type Info = { format: 'png'; png: PngInfo } | { format: 'jpeg'; jpeg: JpegInfo };

function readInfo(bytes: Uint8Array): Info {
  if (!(bytes instanceof Uint8Array)) throw new VitguardError('E_INPUT', 'image bytes must be a Uint8Array');
  const format = sniffImageFormat(bytes);
  if (format === undefined) {
    const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new VitguardError(
      'E_IMAGE',
      bytes.length === 0 ? 'empty image (0 bytes)' : `unknown image format (first bytes ${head}); PNG and JPEG are supported`,
    );
  }
  return guarded(format, () => (format === 'png' ? { format, png: readPngInfo(bytes) } : { format, jpeg: readJpegInfo(bytes) }));
}

/** Run a decoder step; anything it throws that is not already a VitguardError becomes E_IMAGE. */
function guarded<T>(format: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof VitguardError) throw e;
    throw new VitguardError('E_IMAGE', `corrupt ${format.toUpperCase()} image: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
}

/** Dimensions, colour model, bit depth, interlacing and orientation from the header alone. Throws E_IMAGE. */
export function readImageHeader(bytes: Uint8Array): ImageHeader {
  const info = readInfo(bytes);
  if (info.format === 'png') {
    const p = info.png;
    const color = (['grey', '', 'rgb', 'palette', 'grey+alpha', '', 'rgba'] as const)[p.colorType] as ImageHeader['color'];
    return { format: 'png', width: p.width, height: p.height, channels: p.samples, bitDepth: p.bitDepth, color, interlaced: p.interlaced, progressive: false, orientation: p.orientation };
  }
  const j = info.jpeg;
  return { format: 'jpeg', width: j.width, height: j.height, channels: j.components.length, bitDepth: j.precision, color: j.color, interlaced: false, progressive: j.progressive, orientation: j.orientation };
}

/** How an image will be decoded: its reduction, output size and the memory that takes. */
export interface DecodePlan {
  format: 'png' | 'jpeg';
  scale: number;
  /** Output size, upright when autoOrient (the default). */
  width: number;
  height: number;
  /** Bytes the decoder allocates for this image (compared against maxDecodeBytes). */
  decodeBytes: number;
  orientation: Orientation;
}

function positive(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !(v > 0)) throw new VitguardError('E_INPUT', `${name} must be a positive number, got ${String(v)}`);
  return v;
}

const mp = (n: number) => `${(n / 1e6).toFixed(n < 1e7 ? 2 : 1)} megapixels`;
const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/** Check decode options (E_INPUT) and fill in the defaults. */
export function checkDecodeOptions(opts: DecodeOptions): Required<DecodeOptions> {
  if (typeof opts !== 'object' || opts === null) throw new VitguardError('E_INPUT', 'decode options must be an object');
  const maxPixels = positive('maxPixels', opts.maxPixels, DEFAULT_MAX_PIXELS);
  const maxDecodeBytes = positive('maxDecodeBytes', opts.maxDecodeBytes, DEFAULT_MAX_DECODE_BYTES);
  const minShortSide = opts.minShortSide ?? 0;
  if (typeof minShortSide !== 'number' || !(minShortSide >= 0)) throw new VitguardError('E_INPUT', `minShortSide must be a number ≥ 0, got ${String(opts.minShortSide)}`);
  if (opts.autoOrient !== undefined && typeof opts.autoOrient !== 'boolean') throw new VitguardError('E_INPUT', `autoOrient must be true or false, got ${String(opts.autoOrient)}`);
  return { maxPixels, maxDecodeBytes, minShortSide, autoOrient: opts.autoOrient ?? true };
}

function planInfo(info: Info, opts: DecodeOptions): DecodePlan & { png?: ReturnType<typeof planPng>; jpeg?: ReturnType<typeof planJpeg> } {
  const { maxPixels, maxDecodeBytes, minShortSide, autoOrient } = checkDecodeOptions(opts);
  const { width: w, height: h } = info.format === 'png' ? info.png : info.jpeg;
  const kind = info.format.toUpperCase();
  if (w * h > maxPixels) {
    throw new VitguardError('E_IMAGE_TOO_LARGE', `the ${kind} declares ${w}×${h} = ${mp(w * h)}, over the limit of ${mp(maxPixels)} (maxPixels): raise maxPixels to decode it`);
  }
  const orientation = !autoOrient ? 1 : info.format === 'png' ? info.png.orientation : info.jpeg.orientation;
  let scale: number, outW: number, outH: number, bytes: number;
  let png: ReturnType<typeof planPng> | undefined, jpeg: ReturnType<typeof planJpeg> | undefined;
  if (info.format === 'png') {
    png = planPng(info.png, pngScaleFor(Math.min(w, h), minShortSide));
    ({ scale, width: outW, height: outH, bytes } = png);
  } else {
    let s: 1 | 2 | 4 | 8 = 1;
    if (minShortSide > 0) for (const c of [8, 4, 2] as const) if (Math.min(Math.ceil(w / c), Math.ceil(h / c)) >= 2 * minShortSide) { s = c; break; }
    jpeg = guarded('jpeg', () => planJpeg(info.jpeg, s));
    ({ scale, width: outW, height: outH, bytes } = jpeg);
  }
  if (bytes > maxDecodeBytes) {
    const how = scale === 1 ? 'at full size' : `reduced 1/${scale}`;
    const hint = minShortSide > 0 ? 'raise maxDecodeBytes' : 'raise maxDecodeBytes, or pass minShortSide so it is decoded reduced';
    throw new VitguardError('E_IMAGE_TOO_LARGE', `decoding this ${w}×${h} ${kind} ${how} needs ${mib(bytes)}, over the limit of ${mib(maxDecodeBytes)} (maxDecodeBytes): ${hint}`);
  }
  return { format: info.format, scale, ...orientedSize(orientation, outW, outH), decodeBytes: bytes, orientation, png, jpeg };
}

/** The reduction, output size and memory decodeImage would use, from the header alone; throws what it would throw. */
export function planDecode(bytes: Uint8Array, opts: DecodeOptions = {}): DecodePlan {
  const { png, jpeg, ...plan } = planInfo(readInfo(bytes), opts);
  void png, jpeg;
  return plan;
}

/**
 * Decode PNG or JPEG bytes to upright RGBA, reduced when `minShortSide` allows. Throws VitguardError: E_IMAGE for an
 * unknown format or a corrupt or unsupported file, E_IMAGE_TOO_LARGE over a limit (before decoding), E_INPUT for bad
 * options.
 */
export function decodeImage(bytes: Uint8Array, opts: DecodeOptions = {}): DecodedImage {
  const info = readInfo(bytes);
  const plan = planInfo(info, opts);
  const o = plan.orientation;
  const fileOrientation = info.format === 'png' ? info.png.orientation : info.jpeg.orientation;
  if (info.format === 'png') {
    const d = guarded('png', () => decodePng(bytes, info.png, plan.png!, o));
    return { ...d, format: 'png', sourceWidth: info.png.width, sourceHeight: info.png.height, scale: plan.scale, orientation: fileOrientation };
  }
  const d = guarded('jpeg', () => decodeJpeg(bytes, info.jpeg, plan.jpeg!, o));
  const channels = info.jpeg.components.length === 1 ? 1 : 3;
  return { ...d, channels, format: 'jpeg', sourceWidth: info.jpeg.width, sourceHeight: info.jpeg.height, scale: plan.scale, orientation: fileOrientation };
}

// --- channel conversion --------------------------------------------------------------------------------------

/**
 * RGBA (n·4 bytes) → n·channels bytes. To 1 channel: ITU-R 601-2 luma, (19595·R + 38470·G + 7471·B + 2¹⁵) >> 16,
 * as PIL's convert('L') (exact for grey images, where R = G = B). To 3: alpha dropped. To 4: a copy.
 */
export function rgbaToChannels(rgba: Uint8Array, channels: 1 | 3 | 4): Uint8Array {
  if (rgba.length % 4 !== 0) throw new VitguardError('E_INPUT', `RGBA data length ${rgba.length} is not a multiple of 4`);
  const n = rgba.length / 4;
  if (channels === 4) return rgba.slice();
  const out = new Uint8Array(n * channels);
  if (channels === 3) {
    for (let i = 0; i < n; i++) {
      out[3 * i] = rgba[4 * i];
      out[3 * i + 1] = rgba[4 * i + 1];
      out[3 * i + 2] = rgba[4 * i + 2];
    }
  } else {
    for (let i = 0; i < n; i++) {
      out[i] = (19595 * rgba[4 * i] + 38470 * rgba[4 * i + 1] + 7471 * rgba[4 * i + 2] + 0x8000) >>> 16;
    }
  }
  return out;
}
