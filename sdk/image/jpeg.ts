// JPEG decoder written from ITU-T T.81 (the JPEG standard): baseline and extended sequential Huffman (SOF0, SOF1) and
// progressive Huffman (SOF2: spectral selection and successive approximation, any number of scans), restart
// intervals, 1, 3 or 4 components with any integral sampling factors, Adobe APP14 colour transforms (YCbCr, RGB,
// YCCK, CMYK; Adobe CMYK is stored inverted) and EXIF orientation.
//
// It decodes reduced: a scaled inverse DCT turns each 8×8 block of coefficients into N×N pixels (N = 8, 4, 2 or 1,
// the idea of libjpeg's scale_num/scale_denom; N = 1 is the DC term alone), so a 12-megapixel photo decoded at 1/8
// never exists at full size. Chroma that is subsampled gets a larger IDCT (a 4:2:0 chroma block at 1/8 scale is
// decoded 2×2) up to 8×8; beyond that its samples are replicated, as jpeg-js does at full size.
//
// Memory: a sequential JPEG whose first scan holds every component (nearly all of them) is decoded MCU row by MCU row
// into the output: output + one MCU row of samples. Progressive JPEGs (and sequential ones split into one scan per
// component) need every block's coefficients until the last scan: Int16 planes, one per component, holding only the
// N×N low frequencies the scaled IDCT uses, plus a 64-bit "non-zero" mask per block (successive-approximation
// refinement must know which coefficients are already non-zero, dropped ones included, and visits only those).
// planJpeg counts all of it before anything is allocated.

import { VitguardError } from '../errors.js';
import { exifOrientation, orientedRow, orientedSize, type Orientation } from './orient.js';

// --- errors ---------------------------------------------------------------------------------------------------

const corrupt = (msg: string) => new VitguardError('E_IMAGE', `corrupt JPEG image: ${msg}`);
/**
 * Most scans a JPEG may have. Every scan, however short its data, costs a pass over all the blocks of its components:
 * a 26-byte refinement scan of a 12 MP photo repeated 1,000 times made a 250 KB file that took 5 s to decode here.
 */
export const MAX_JPEG_SCANS = 100;
const unsupported = (msg: string) => new VitguardError('E_IMAGE', `unsupported JPEG image: ${msg}`);

// --- the frame header -----------------------------------------------------------------------------------------

export interface JpegComponentInfo {
  /** Component identifier from the frame header. */
  id: number;
  /** Horizontal and vertical sampling factors (1..4). */
  h: number;
  v: number;
  /** Quantization table selector (0..3). */
  tq: number;
}

export type JpegColor = 'grey' | 'ycbcr' | 'rgb' | 'cmyk' | 'ycck';

/** What the markers before the first scan say, read without decoding any entropy-coded data. */
export interface JpegInfo {
  width: number;
  height: number;
  /** Sample precision in bits (8; 12 is reported, then refused by the decoder). */
  precision: number;
  /** SOF marker: 0xc0 baseline, 0xc1 extended sequential, 0xc2 progressive. */
  sof: number;
  progressive: boolean;
  components: JpegComponentInfo[];
  /** Adobe APP14 transform flag (0 none, 1 YCbCr, 2 YCCK), or -1 without an Adobe segment. */
  adobeTransform: number;
  color: JpegColor;
  orientation: Orientation;
  /** Number of components in the first scan: all of them lets a sequential JPEG be decoded MCU row by MCU row. */
  firstScanComponents: number;
}

const SOF_SUPPORTED = new Set([0xc0, 0xc1, 0xc2]);
/** Lossless, hierarchical and arithmetic-coded frames: legal JPEG that browsers and libjpeg-turbo builds rarely read. */
const SOF_UNSUPPORTED: Record<number, string> = {
  0xc3: 'lossless', 0xc5: 'hierarchical', 0xc6: 'hierarchical progressive', 0xc7: 'hierarchical lossless',
  0xc9: 'arithmetic-coded', 0xca: 'arithmetic-coded progressive', 0xcb: 'arithmetic-coded lossless',
  0xcd: 'hierarchical arithmetic-coded', 0xce: 'hierarchical arithmetic-coded progressive', 0xcf: 'hierarchical arithmetic-coded lossless',
};

/**
 * Walk the markers of a JPEG from SOI up to the first SOS header: frame size, components, sampling, Adobe transform,
 * EXIF orientation. Reads only marker segments, never entropy-coded data.
 */
export function readJpegInfo(bytes: Uint8Array): JpegInfo {
  if (bytes.length < 2 || bytes[0] !== 0xff || bytes[1] !== 0xd8) throw corrupt('no SOI marker (not a JPEG file)');
  let frame: Omit<JpegInfo, 'adobeTransform' | 'color' | 'orientation' | 'firstScanComponents'> | null = null;
  let adobeTransform = -1;
  let orientation: Orientation = 1;
  let jfif = false;
  for (const seg of segments(bytes, 2)) {
    const { marker, start, end } = seg;
    if (marker === 0xda) {
      if (!frame) throw corrupt('scan (SOS) before the frame header (SOF)');
      if (end - start < 1) throw corrupt('SOS segment too short');
      if (frame.height === 0) throw unsupported('height defined later by a DNL marker');
      const color = jpegColor(frame.components, adobeTransform, jfif);
      return { ...frame, adobeTransform, color, orientation, firstScanComponents: bytes[start] };
    }
    if (marker === 0xd9) break;
    if (SOF_SUPPORTED.has(marker) || marker in SOF_UNSUPPORTED) {
      if (frame) throw corrupt('more than one frame header (SOF)');
      frame = parseSof(bytes, marker, start, end);
    } else if (marker === 0xe0 && end - start >= 5 && ascii(bytes, start, 5) === 'JFIF\0') {
      jfif = true;
    } else if (marker === 0xe1 && end - start >= 6 && ascii(bytes, start, 6) === 'Exif\0\0') {
      orientation = exifOrientation(bytes.subarray(start + 6, end));
    } else if (marker === 0xee && end - start >= 12 && ascii(bytes, start, 5) === 'Adobe') {
      adobeTransform = bytes[start + 11];
    }
  }
  throw corrupt(frame ? 'no scan (SOS) in the file (truncated?)' : 'no frame header (SOF) found (truncated?)');
}

function ascii(b: Uint8Array, p: number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(b[p + i]);
  return s;
}

function parseSof(b: Uint8Array, marker: number, start: number, end: number) {
  if (end - start < 6) throw corrupt('frame header (SOF) too short');
  const precision = b[start];
  const height = (b[start + 1] << 8) | b[start + 2];
  const width = (b[start + 3] << 8) | b[start + 4];
  const nf = b[start + 5];
  if (end - start < 6 + 3 * nf) throw corrupt(`frame header (SOF) too short for ${nf} components`);
  const components: JpegComponentInfo[] = [];
  for (let i = 0; i < nf; i++) {
    const p = start + 6 + 3 * i;
    const c = { id: b[p], h: b[p + 1] >> 4, v: b[p + 1] & 15, tq: b[p + 2] };
    if (c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4) throw corrupt(`component ${c.id} has sampling factors ${c.h}×${c.v} (1..4 allowed)`);
    if (c.tq > 3) throw corrupt(`component ${c.id} uses quantization table ${c.tq} (0..3 allowed)`);
    if (components.some((o) => o.id === c.id)) throw corrupt(`component id ${c.id} appears twice in the frame header`);
    components.push(c);
  }
  if (width === 0) throw corrupt('frame header declares width 0');
  if (nf === 0) throw corrupt('frame header declares no components');
  return { width, height, precision, sof: marker, progressive: marker === 0xc2 || marker === 0xc6 || marker === 0xca, components };
}

function jpegColor(comps: JpegComponentInfo[], adobe: number, jfif: boolean): JpegColor {
  if (comps.length === 1) return 'grey';
  if (comps.length === 4) return adobe === 2 ? 'ycck' : 'cmyk';
  if (adobe === 0) return 'rgb';
  // without Adobe or JFIF markers, components named 'R','G','B' mean RGB (the convention libjpeg follows)
  if (adobe < 0 && !jfif && comps.length === 3 && comps[0].id === 0x52 && comps[1].id === 0x47 && comps[2].id === 0x42) return 'rgb';
  return 'ycbcr';
}

interface Segment { marker: number; start: number; end: number; at: number }

/**
 * Marker segments from position p: { marker, start..end = the segment's payload, at = the marker's offset }.
 * Standalone markers (RSTn, TEM) are skipped; bytes between segments that are not a marker are skipped as libjpeg
 * does ("extraneous bytes before marker"). Stops after SOS (the caller decodes the scan and resumes) or at the end.
 */
function* segments(b: Uint8Array, p: number): Generator<Segment> {
  const n = b.length;
  for (;;) {
    while (p < n && b[p] !== 0xff) p++;
    while (p < n && b[p] === 0xff) p++; // fill bytes
    if (p >= n) return;
    const marker = b[p];
    const at = p - 1;
    p++;
    if (marker === 0x00 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;
    if (marker === 0xd8) continue;
    if (marker === 0xd9) { yield { marker, start: p, end: p, at }; return; }
    if (p + 2 > n) throw corrupt(`file ends inside marker 0xff${marker.toString(16)} (truncated)`);
    const len = (b[p] << 8) | b[p + 1];
    if (len < 2) throw corrupt(`marker 0xff${marker.toString(16)} declares length ${len}`);
    if (p + len > n) throw corrupt(`marker 0xff${marker.toString(16)} declares ${len} bytes but only ${n - p} remain (truncated)`);
    yield { marker, start: p + 2, end: p + len, at };
    p += len;
  }
}

// --- planning: scale and memory before anything is allocated ----------------------------------------------------

/** Geometry of a component at a given scale. */
interface CompGeometry {
  /** Blocks per line / column of the component itself (the extent a non-interleaved scan covers). */
  bw: number;
  bh: number;
  /** Blocks per line / column padded to whole MCUs (the extent an interleaved scan covers; the storage extent). */
  bwp: number;
  bhp: number;
  /** IDCT output size per block (1..8) and how many output pixels each of its samples covers. */
  nx: number;
  ny: number;
  rx: number;
  ry: number;
}

export interface JpegPlan {
  /** Reduction: output = ceil(size / scale), scale ∈ {1, 2, 4, 8}. */
  scale: 1 | 2 | 4 | 8;
  /** Stored (not yet oriented) output size. */
  width: number;
  height: number;
  /** Coefficient planes are needed (progressive, or a sequential file with one scan per component). */
  coefficients: boolean;
  /** Bytes this decoder will allocate for this image at this scale (output, sample rows, coefficient planes, tables). */
  bytes: number;
  hmax: number;
  vmax: number;
  mcusX: number;
  mcusY: number;
  geometry: CompGeometry[];
}

/** Tables, block buffers and per-call bookkeeping: small and independent of the image size. */
const JPEG_FIXED_BYTES = 64 * 1024;

/** The sampling factors a decoder must use: a one-component frame is never interleaved, its factors mean nothing. */
function samplingOf(info: JpegInfo): { h: number; v: number }[] {
  return info.components.length === 1 ? [{ h: 1, v: 1 }] : info.components.map((c) => ({ h: c.h, v: c.v }));
}

export function planJpeg(info: JpegInfo, scale: 1 | 2 | 4 | 8): JpegPlan {
  const sampling = samplingOf(info);
  const hmax = Math.max(...sampling.map((c) => c.h));
  const vmax = Math.max(...sampling.map((c) => c.v));
  for (const c of sampling) {
    if (hmax % c.h !== 0 || vmax % c.v !== 0) {
      throw unsupported(`sampling factors ${info.components.map((k) => `${k.h}×${k.v}`).join(', ')} are not integral ratios (libjpeg refuses them too)`);
    }
  }
  const K = 8 / scale;
  const mcusX = Math.ceil(info.width / (8 * hmax));
  const mcusY = Math.ceil(info.height / (8 * vmax));
  const width = Math.ceil(info.width / scale);
  const height = Math.ceil(info.height / scale);
  const coefficients = info.progressive || info.firstScanComponents < info.components.length;
  let bytes = JPEG_FIXED_BYTES + width * height * 4;
  const geometry = sampling.map((c) => {
    const spanX = (K * hmax) / c.h; // output pixels one block of this component covers
    const spanY = (K * vmax) / c.v;
    const nx = Math.min(8, spanX);
    const ny = Math.min(8, spanY);
    const g: CompGeometry = {
      bw: Math.ceil(Math.ceil((info.width * c.h) / hmax) / 8),
      bh: Math.ceil(Math.ceil((info.height * c.v) / vmax) / 8),
      bwp: mcusX * c.h,
      bhp: mcusY * c.v,
      nx, ny, rx: spanX / nx, ry: spanY / ny,
    };
    bytes += g.bwp * g.nx * c.v * g.ny; // one MCU row of samples
    bytes += width * 4; // column index table
    if (coefficients) bytes += g.bwp * g.bhp * (2 * nx * ny + (info.progressive ? 8 : 0));
    return g;
  });
  return { scale, width, height, coefficients, bytes, hmax, vmax, mcusX, mcusY, geometry };
}

// --- zigzag, IDCT tables --------------------------------------------------------------------------------------

/** ZIGZAG[k] = natural (row-major) index of the k-th coefficient in zigzag order (T.81 figure A.6). */
const ZIGZAG = (() => {
  const z = new Int32Array(80).fill(63); // 16 spare entries so a corrupt run length past 63 lands on a dead slot
  let k = 0;
  for (let s = 0; s <= 14; s++) {
    if (s % 2 === 0) for (let r = Math.min(s, 7); r >= Math.max(0, s - 7); r--) z[k++] = r * 8 + (s - r);
    else for (let r = Math.max(0, s - 7); r <= Math.min(s, 7); r++) z[k++] = r * 8 + (s - r);
  }
  return z;
})();

/**
 * IDCT_MATRIX[N][n·N + u] = ½·C(u)·cos((2n+1)uπ / 2N), C(0) = 1/√2: the N-point inverse DCT of the N lowest of the 8
 * coefficients. Applied along both axes it gives the T.81 A.3.3 IDCT for N = 8, and for N < 8 the N×N picture whose
 * pixels are the 8/N-pixel box averages of the full block, up to the dropped high frequencies (DC: F00 / 8).
 */
const IDCT_MATRIX: Float64Array[] = [new Float64Array(0)];
for (let N = 1; N <= 8; N++) {
  const m = new Float64Array(N * N);
  for (let n = 0; n < N; n++) for (let u = 0; u < N; u++) m[n * N + u] = 0.5 * (u === 0 ? Math.SQRT1_2 : 1) * Math.cos(((2 * n + 1) * u * Math.PI) / (2 * N));
  IDCT_MATRIX.push(m);
}

// 8-point IDCT by even/odd split: x[n] = E[n] + O[n], x[7−n] = E[n] − O[n]; E from F0, F2, F4, F6, O from the odd ones.
const R2H = 0.5 * Math.SQRT1_2;
const C2H = 0.5 * Math.cos((2 * Math.PI) / 16);
const C6H = 0.5 * Math.cos((6 * Math.PI) / 16);
const ODD = new Float64Array(16); // ODD[n·4 + j] = ½·cos((2n+1)(2j+1)π/16)
for (let n = 0; n < 4; n++) for (let j = 0; j < 4; j++) ODD[n * 4 + j] = 0.5 * Math.cos(((2 * n + 1) * (2 * j + 1) * Math.PI) / 16);
const [O00, O01, O02, O03, O10, O11, O12, O13, O20, O21, O22, O23, O30, O31, O32, O33] = ODD;

const clampByte = (x: number) => (x <= 0 ? 0 : x >= 255 ? 255 : (x + 0.5) | 0);

/**
 * Dequantize and inverse-transform one block. `coef` holds nx·ny coefficients in "kept" layout (vertical frequency
 * major: coef[v·nx + u]), `q` the matching quantizer steps. Writes ny rows of nx pixels (level-shifted, rounded,
 * clamped) at out[o + y·stride + x]. `tmp` is a 64-entry scratch.
 */
function idctBlock(coef: Int16Array | Int32Array, c0: number, q: Float64Array, nx: number, ny: number, out: Uint8Array, o: number, stride: number, tmp: Float64Array): void {
  if (nx === 1 && ny === 1) {
    out[o] = clampByte(coef[c0] * q[0] * 0.125 + 128);
    return;
  }
  if (nx === 8 && ny === 8) {
    // rows: horizontal frequencies → x, for each vertical frequency v
    for (let v = 0; v < 8; v++) {
      const r = c0 + v * 8;
      const qr = v * 8;
      const f1 = coef[r + 1], f2 = coef[r + 2], f3 = coef[r + 3], f4 = coef[r + 4], f5 = coef[r + 5], f6 = coef[r + 6], f7 = coef[r + 7];
      const f0 = coef[r] * q[qr];
      if ((f1 | f2 | f3 | f4 | f5 | f6 | f7) === 0) {
        const d = f0 * R2H;
        tmp[qr] = tmp[qr + 1] = tmp[qr + 2] = tmp[qr + 3] = tmp[qr + 4] = tmp[qr + 5] = tmp[qr + 6] = tmp[qr + 7] = d;
        continue;
      }
      idct8(f0, f1 * q[qr + 1], f2 * q[qr + 2], f3 * q[qr + 3], f4 * q[qr + 4], f5 * q[qr + 5], f6 * q[qr + 6], f7 * q[qr + 7], tmp, qr, 1);
    }
    // columns: vertical frequencies → y
    for (let x = 0; x < 8; x++) {
      idct8(tmp[x], tmp[8 + x], tmp[16 + x], tmp[24 + x], tmp[32 + x], tmp[40 + x], tmp[48 + x], tmp[56 + x], tmp, x, 8);
    }
    for (let y = 0; y < 8; y++) {
      const d = o + y * stride;
      const t = y * 8;
      for (let x = 0; x < 8; x++) out[d + x] = clampByte(tmp[t + x] + 128);
    }
    return;
  }
  // general N: separable matrix products, rows then columns
  const mx = IDCT_MATRIX[nx];
  const my = IDCT_MATRIX[ny];
  for (let v = 0; v < ny; v++) {
    const r = c0 + v * nx;
    for (let x = 0; x < nx; x++) {
      let s = 0;
      for (let u = 0; u < nx; u++) s += mx[x * nx + u] * coef[r + u] * q[v * nx + u];
      tmp[v * 8 + x] = s;
    }
  }
  for (let y = 0; y < ny; y++) {
    const d = o + y * stride;
    for (let x = 0; x < nx; x++) {
      let s = 0;
      for (let v = 0; v < ny; v++) s += my[y * ny + v] * tmp[v * 8 + x];
      out[d + x] = clampByte(s + 128);
    }
  }
}

/** The 8-point IDCT of f0..f7 into t[o], t[o+s], …, t[o+7s] (½·C(u) normalisation: two passes make T.81's ¼). */
function idct8(f0: number, f1: number, f2: number, f3: number, f4: number, f5: number, f6: number, f7: number, t: Float64Array, o: number, s: number): void {
  const ee0 = R2H * (f0 + f4), ee1 = R2H * (f0 - f4);
  const eo0 = C2H * f2 + C6H * f6, eo1 = C6H * f2 - C2H * f6;
  const e0 = ee0 + eo0, e3 = ee0 - eo0, e1 = ee1 + eo1, e2 = ee1 - eo1;
  const o0 = O00 * f1 + O01 * f3 + O02 * f5 + O03 * f7;
  const o1 = O10 * f1 + O11 * f3 + O12 * f5 + O13 * f7;
  const o2 = O20 * f1 + O21 * f3 + O22 * f5 + O23 * f7;
  const o3 = O30 * f1 + O31 * f3 + O32 * f5 + O33 * f7;
  t[o] = e0 + o0; t[o + 7 * s] = e0 - o0;
  t[o + s] = e1 + o1; t[o + 6 * s] = e1 - o1;
  t[o + 2 * s] = e2 + o2; t[o + 5 * s] = e2 - o2;
  t[o + 3 * s] = e3 + o3; t[o + 4 * s] = e3 - o3;
}

// --- Huffman tables and the bit reader --------------------------------------------------------------------------

const FAST_BITS = 9;

interface Huffman {
  /** fast[peek9] = (length << 8) | symbol for codes of ≤ 9 bits, 0 where the code is longer. */
  fast: Int32Array;
  /** For lengths 1..16: the largest code of that length (−1 if none), and where its symbols start in `symbols`. */
  maxcode: Int32Array;
  mincode: Int32Array;
  valptr: Int32Array;
  symbols: Uint8Array;
}

/** Build a table from the 16 code-length counts and the symbols (T.81 C.2: canonical codes in order of length). */
function buildHuffman(counts: Uint8Array, symbols: Uint8Array): Huffman {
  const fast = new Int32Array(1 << FAST_BITS);
  const maxcode = new Int32Array(18).fill(-1);
  const mincode = new Int32Array(17);
  const valptr = new Int32Array(17);
  let code = 0, k = 0;
  for (let len = 1; len <= 16; len++) {
    const n = counts[len - 1];
    valptr[len] = k;
    mincode[len] = code;
    if (n > 0) {
      if (code + n > 1 << len) throw corrupt('Huffman table has more codes than fit their lengths');
      if (len <= FAST_BITS) {
        for (let i = 0; i < n; i++) {
          const c = code + i;
          const shift = FAST_BITS - len;
          for (let j = 0; j < 1 << shift; j++) fast[(c << shift) | j] = (len << 8) | symbols[k + i];
        }
      }
      maxcode[len] = code + n - 1;
    }
    code = (code + n) << 1;
    k += n;
  }
  maxcode[17] = 0x7fffffff; // sentinel: a 17-bit search means a bad code
  return { fast, maxcode, mincode, valptr, symbols };
}

/**
 * Entropy-coded data reader (T.81 F.2.2.5): bytes 0xFF 0x00 are a data 0xFF; any other 0xFF xx is a marker, where the
 * data ends. Past the end it feeds zero bits and counts them, so lookahead never fails but consuming them is caught
 * (`overran`): the data was truncated or corrupt.
 */
class BitReader {
  private acc = 0;
  private n = 0;
  /** Zero bits fed past the end that are still in `acc`. */
  private pad = 0;
  /** Offset of the marker that ended the data (0xFF of it), or −1 while there is data. */
  marker = -1;
  constructor(private readonly d: Uint8Array, public pos: number) {}

  private fill(): void {
    const d = this.d;
    while (this.n <= 24) {
      let b = 0;
      if (this.marker < 0) {
        if (this.pos >= d.length) {
          this.marker = d.length;
          this.pad += 8;
        } else {
          b = d[this.pos];
          if (b === 0xff) {
            let p = this.pos + 1;
            while (p < d.length && d[p] === 0xff) p++; // fill bytes before a marker
            if (p < d.length && d[p] === 0x00 && p === this.pos + 1) {
              this.pos += 2;
            } else {
              this.marker = p - 1 < d.length ? p - 1 : d.length;
              this.pos = this.marker;
              b = 0;
              this.pad += 8;
            }
          } else {
            this.pos++;
          }
        }
      } else {
        this.pad += 8;
      }
      this.acc = (this.acc << 8) | b;
      this.n += 8;
    }
  }

  /** True once bits past the end of the data were consumed. */
  get overran(): boolean {
    return this.n < this.pad;
  }

  decode(h: Huffman | null): number {
    if (h === null) throw corrupt('a scan uses a Huffman table that was never defined');
    if (this.n < 16) this.fill();
    const peek = (this.acc >>> (this.n - 16)) & 0xffff;
    const f = h.fast[peek >>> (16 - FAST_BITS)];
    if (f !== 0) {
      this.n -= f >> 8;
      return f & 255;
    }
    let len = FAST_BITS + 1;
    while (len <= 16 && peek >>> (16 - len) > h.maxcode[len]) len++;
    if (len > 16) throw corrupt('bad Huffman code in the entropy-coded data');
    this.n -= len;
    const i = h.valptr[len] + (peek >>> (16 - len)) - h.mincode[len];
    if (i >= h.symbols.length) throw corrupt('bad Huffman code in the entropy-coded data');
    return h.symbols[i];
  }

  /** s raw bits (0 ≤ s ≤ 16) as an unsigned number. */
  bits(s: number): number {
    if (s === 0) return 0;
    if (this.n < s) this.fill();
    this.n -= s;
    return (this.acc >>> this.n) & ((1 << s) - 1);
  }

  bit(): number {
    if (this.n < 1) this.fill();
    this.n -= 1;
    return (this.acc >>> this.n) & 1;
  }

  /** s bits read as a signed magnitude category (T.81 F.2.2.1 EXTEND). */
  receiveExtend(s: number): number {
    if (s === 0) return 0;
    const v = this.bits(s);
    return v < 1 << (s - 1) ? v - (1 << s) + 1 : v;
  }

  /**
   * At a restart boundary: drop the padding bits, expect an RSTn marker and step over it. A missing RST means the
   * data is damaged or cut short.
   */
  restart(): void {
    this.acc = 0;
    this.n = 0;
    this.pad = 0;
    let p = this.marker >= 0 ? this.marker : this.pos;
    const d = this.d;
    // skip anything up to the next marker (libjpeg resynchronises the same way)
    while (p < d.length && !(d[p] === 0xff && p + 1 < d.length && d[p + 1] !== 0 && d[p + 1] !== 0xff)) p++;
    if (p + 1 >= d.length) throw corrupt('data ends before the next restart marker (truncated)');
    const m = d[p + 1];
    if (m < 0xd0 || m > 0xd7) throw corrupt(`expected a restart marker (RSTn), found 0xff${m.toString(16)} (truncated or damaged data)`);
    this.pos = p + 2;
    this.marker = -1;
  }

  /** Where the data ended: the offset of the marker after the scan (searching forward if it was not reached yet). */
  end(): number {
    let p = this.marker >= 0 ? this.marker : this.pos;
    const d = this.d;
    while (p < d.length && !(d[p] === 0xff && p + 1 < d.length && d[p + 1] !== 0 && !(d[p + 1] >= 0xd0 && d[p + 1] <= 0xd7))) p++;
    return p;
  }
}

// --- the decoder ----------------------------------------------------------------------------------------------

interface Comp extends CompGeometry {
  id: number;
  h: number;
  v: number;
  tq: number;
  /** Quantizer steps in kept layout (q[v·nx + u]), latched at the component's first scan. */
  q: Float64Array | null;
  /** natural index → index in kept layout, or −1 for a frequency the scaled IDCT drops. */
  keepIndex: Int8Array;
  keep: number;
  coefs: Int16Array | null;
  /** Progressive only: two 32-bit words per block, bit k set = the k-th coefficient in zigzag order is non-zero. */
  nonzero: Int32Array | null;
  /** Zigzag index → kept-layout index, or −1 (progressive only). */
  keptZ: Int8Array | null;
  /** One MCU row of samples: stripW × (v·ny). */
  strip: Uint8Array;
  stripW: number;
  /** Output column x → sample column in the strip. */
  colIndex: Int32Array;
  pred: number;
  dc: Huffman | null;
  ac: Huffman | null;
  /** Huffman table selectors of the current scan. */
  td: number;
  ta: number;
}

export interface JpegDecoded {
  /** RGBA, upright (orientation applied), width × height. */
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * Decode `bytes` at `plan.scale`, writing each pixel to its upright place for `orientation`. The plan must come from
 * planJpeg on this file's info: it is the memory the caller agreed to.
 */
export function decodeJpeg(bytes: Uint8Array, info: JpegInfo, plan: JpegPlan, orientation: Orientation): JpegDecoded {
  if (info.precision !== 8) throw unsupported(`${info.precision}-bit samples (only 8-bit JPEG is supported)`);
  if (!SOF_SUPPORTED.has(info.sof)) throw unsupported(`${SOF_UNSUPPORTED[info.sof] ?? 'this kind of'} frame (SOF 0xff${info.sof.toString(16)}); baseline, extended and progressive Huffman are supported`);
  if (info.height === 0) throw unsupported('height defined later by a DNL marker');
  if (info.components.length === 2) throw unsupported('2 components (only 1 grey, 3 colour or 4 CMYK)');
  if (info.components.length > 4) throw unsupported(`${info.components.length} components (only 1 grey, 3 colour or 4 CMYK)`);
  const sampling = samplingOf(info);
  const comps: Comp[] = info.components.map((c, i) => {
    const g = plan.geometry[i];
    const keepIndex = new Int8Array(64).fill(-1);
    for (let z = 0; z < 64; z++) if (z >> 3 < g.ny && (z & 7) < g.nx) keepIndex[z] = (z >> 3) * g.nx + (z & 7);
    const keep = g.nx * g.ny;
    const stripW = g.bwp * g.nx;
    const colIndex = new Int32Array(plan.width);
    for (let x = 0; x < plan.width; x++) colIndex[x] = Math.floor(x / g.rx);
    return {
      ...g, id: c.id, h: sampling[i].h, v: sampling[i].v, tq: c.tq, q: null, keepIndex, keep,
      coefs: null, nonzero: null, keptZ: null, strip: new Uint8Array(0), stripW, colIndex, pred: 0, dc: null, ac: null, td: 0, ta: 0,
    };
  });

  const qtables: (Uint16Array | null)[] = [null, null, null, null];
  const dcTables: (Huffman | null)[] = [null, null, null, null];
  const acTables: (Huffman | null)[] = [null, null, null, null];
  let restartInterval = 0;
  // The buffers planJpeg counted, allocated at the first scan (a file without one allocates nothing).
  let out = new Uint8Array(0);
  const allocate = () => {
    out = new Uint8Array(plan.width * plan.height * 4);
    for (const c of comps) {
      c.strip = new Uint8Array(c.stripW * c.v * c.ny);
      if (plan.coefficients) {
        c.coefs = new Int16Array(c.bwp * c.bhp * c.keep);
        if (info.progressive) {
          c.nonzero = new Int32Array(c.bwp * c.bhp * 2);
          c.keptZ = keptByZigzag(c);
        }
      }
    }
  };
  const block = new Int32Array(64);
  const tmp = new Float64Array(64);
  let scans = 0;

  const latchQ = (c: Comp) => {
    if (c.q) return;
    const t = qtables[c.tq];
    if (!t) throw corrupt(`component ${c.id} uses quantization table ${c.tq}, which was never defined`);
    c.q = new Float64Array(c.keep);
    for (let z = 0; z < 64; z++) if (c.keepIndex[z] >= 0) c.q[c.keepIndex[z]] = t[z];
  };

  let p = 2;
  outer: for (;;) {
    let scanAt = -1;
    for (const seg of segments(bytes, p)) {
      const { marker, start, end } = seg;
      p = end;
      switch (marker) {
        case 0xd9: // EOI
          break outer;
        case 0xdb: readDqt(bytes, start, end, qtables); break;
        case 0xc4: readDht(bytes, start, end, dcTables, acTables); break;
        case 0xdd:
          if (end - start < 2) throw corrupt('DRI segment too short');
          restartInterval = (bytes[start] << 8) | bytes[start + 1];
          break;
        case 0xda: scanAt = start; break;
        default:
          if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc && scans > 0) {
            throw corrupt('a second frame header (SOF) after the first scan');
          }
      }
      if (scanAt >= 0) break;
    }
    if (scanAt < 0) break; // end of data without EOI: what the scans gave is kept (checked below)
    if (scans >= MAX_JPEG_SCANS) throw unsupported(`more than ${MAX_JPEG_SCANS} scans (encoders write at most ~20; each one is a pass over every block)`);
    const scan = readSos(bytes, scanAt, p, comps, info.progressive);
    if (scans === 0) allocate();
    for (const c of scan.comps) {
      latchQ(c);
      if (scan.ss === 0 && scan.ah === 0) c.dc = dcTables[c.td];
      if (scan.se > 0) c.ac = acTables[c.ta];
    }
    const bits = new BitReader(bytes, p);
    const ctx: ScanContext = { bits, restartInterval, ...scan, eobrun: 0, progressive: info.progressive, mcusX: plan.mcusX, mcusY: plan.mcusY };
    if (!plan.coefficients) {
      decodeSequentialStreaming(ctx, comps, plan, block, tmp, out, orientation, info);
      return { data: out, ...orientedSize(orientation, plan.width, plan.height) };
    }
    decodeScanToCoefficients(ctx, comps, block);
    scans++;
    p = bits.end();
  }
  if (!plan.coefficients || scans === 0) throw corrupt('no scan data (truncated)');
  // coefficients → pixels, one MCU row at a time
  for (let my = 0; my < plan.mcusY; my++) {
    for (const c of comps) {
      if (!c.q) throw corrupt(`component ${c.id} never appears in a scan`);
      for (let by = 0; by < c.v; by++) {
        const row = my * c.v + by;
        for (let bx = 0; bx < c.bwp; bx++) {
          const b = row * c.bwp + bx;
          idctBlock(c.coefs!, b * c.keep, c.q, c.nx, c.ny, c.strip, by * c.ny * c.stripW + bx * c.nx, c.stripW, tmp);
        }
      }
    }
    emitRows(comps, plan, my, out, orientation, info.color);
  }
  return { data: out, ...orientedSize(orientation, plan.width, plan.height) };
}

function readDqt(b: Uint8Array, p: number, end: number, tables: (Uint16Array | null)[]): void {
  while (p < end) {
    const pq = b[p] >> 4, tq = b[p] & 15;
    p++;
    if (pq > 1 || tq > 3) throw corrupt(`quantization table ${tq} with precision ${pq}`);
    const n = pq ? 128 : 64;
    if (p + n > end) throw corrupt('DQT segment too short');
    const t = new Uint16Array(64);
    for (let k = 0; k < 64; k++) t[ZIGZAG[k]] = pq ? (b[p + 2 * k] << 8) | b[p + 2 * k + 1] : b[p + k];
    tables[tq] = t;
    p += n;
  }
}

function readDht(b: Uint8Array, p: number, end: number, dc: (Huffman | null)[], ac: (Huffman | null)[]): void {
  while (p < end) {
    if (p + 17 > end) throw corrupt('DHT segment too short');
    const tc = b[p] >> 4, th = b[p] & 15;
    if (tc > 1 || th > 3) throw corrupt(`Huffman table class ${tc} id ${th}`);
    const counts = b.slice(p + 1, p + 17);
    let total = 0;
    for (const c of counts) total += c;
    if (total > 256) throw corrupt(`Huffman table with ${total} symbols (at most 256)`);
    p += 17;
    if (p + total > end) throw corrupt('DHT segment too short for its symbols');
    const t = buildHuffman(counts, b.slice(p, p + total));
    (tc === 0 ? dc : ac)[th] = t;
    p += total;
  }
}

interface ScanHeader {
  comps: Comp[];
  ss: number;
  se: number;
  ah: number;
  al: number;
}

function readSos(b: Uint8Array, start: number, end: number, comps: Comp[], progressive: boolean): ScanHeader {
  const ns = b[start];
  if (ns < 1 || ns > 4 || end - start < 4 + 2 * ns) throw corrupt(`scan header with ${ns} components`);
  const sc: ScanHeader['comps'] = [];
  for (let i = 0; i < ns; i++) {
    const id = b[start + 1 + 2 * i];
    const c = comps.find((k) => k.id === id);
    if (!c) throw corrupt(`scan names component ${id}, which the frame does not have`);
    if (sc.some((k) => k.id === id)) throw corrupt(`scan names component ${id} twice`);
    const t = b[start + 2 + 2 * i];
    const td = t >> 4, ta = t & 15;
    if (td > 3 || ta > 3) throw corrupt(`scan uses Huffman tables ${td}/${ta}`);
    c.td = td;
    c.ta = ta;
    sc.push(c);
  }
  if (sc.length > 1) {
    const blocks = sc.reduce((s, c) => s + c.h * c.v, 0);
    if (blocks > 10) throw corrupt(`an MCU of ${blocks} blocks (T.81 allows at most 10)`);
  }
  const q = start + 1 + 2 * ns;
  const ss = b[q], se = b[q + 1], ah = b[q + 2] >> 4, al = b[q + 2] & 15;
  if (progressive) {
    if (ss > 63 || se > 63 || se < ss || (ss === 0 && se !== 0) || (ss > 0 && ns !== 1) || ah > 13 || al > 13) {
      throw corrupt(`progressive scan with spectral range ${ss}..${se}, approximation ${ah}/${al}, ${ns} components`);
    }
    return { comps: sc, ss, se, ah, al };
  }
  // sequential: the whole spectrum at full precision (libjpeg only warns about other values; so do we, silently)
  return { comps: sc, ss: 0, se: 63, ah: 0, al: 0 };
}

interface ScanContext extends ScanHeader {
  bits: BitReader;
  restartInterval: number;
  eobrun: number;
  /** The frame is progressive (else a multi-scan sequential frame decoded into coefficients). */
  progressive: boolean;
  mcusX: number;
  mcusY: number;
}

/** Decode one sequential block (T.81 F.2.2) into `blk` (natural order, zeroed first). */
function decodeBlockSequential(bits: BitReader, c: Comp, blk: Int32Array): void {
  blk.fill(0);
  const t = bits.decode(c.dc);
  if (t > 16) throw corrupt(`DC difference category ${t}`);
  c.pred += bits.receiveExtend(t);
  blk[0] = c.pred;
  const ac = c.ac;
  for (let k = 1; k < 64;) {
    const rs = bits.decode(ac);
    const r = rs >> 4, s = rs & 15;
    if (s === 0) {
      if (r !== 15) break;
      k += 16;
      continue;
    }
    k += r;
    if (k > 63) throw corrupt('AC coefficient run past the end of the block');
    blk[ZIGZAG[k]] = bits.receiveExtend(s);
    k++;
  }
}

/** Iterate the MCUs of a scan, with restart handling; `each(mcuX, mcuY)` decodes one MCU. */
function forEachMcu(ctx: ScanContext, mcusX: number, mcusY: number, each: (mx: number, my: number) => void, rowDone?: (my: number) => void): void {
  const { bits, restartInterval } = ctx;
  let n = 0;
  for (let my = 0; my < mcusY; my++) {
    for (let mx = 0; mx < mcusX; mx++) {
      if (restartInterval > 0 && n > 0 && n % restartInterval === 0) {
        bits.restart();
        for (const c of ctx.comps) c.pred = 0;
        ctx.eobrun = 0;
      }
      each(mx, my);
      n++;
    }
    if (bits.overran) throw corrupt('entropy-coded data ends before the image does (truncated or damaged file)');
    rowDone?.(my);
  }
}

function decodeSequentialStreaming(ctx: ScanContext, comps: Comp[], plan: JpegPlan, blk: Int32Array, tmp: Float64Array, out: Uint8Array, o: Orientation, info: JpegInfo): void {
  const { bits } = ctx;
  for (const c of comps) c.pred = 0;
  const kept = new Int32Array(64);
  const single = ctx.comps.length === 1;
  const c0 = ctx.comps[0];
  // A one-component scan of a one-component frame walks that component's own blocks; its MCU is one block.
  const mcusX = single ? c0.bw : plan.mcusX;
  const mcusY = single ? c0.bh : plan.mcusY;
  const decodeOne = (c: Comp, bx: number, by: number) => {
    decodeBlockSequential(bits, c, blk);
    let src: Int32Array = blk;
    if (c.keep < 64) {
      for (let z = 0; z < 64; z++) if (c.keepIndex[z] >= 0) kept[c.keepIndex[z]] = blk[z];
      src = kept;
    }
    idctBlock(src, 0, c.q!, c.nx, c.ny, c.strip, by * c.ny * c.stripW + bx * c.nx, c.stripW, tmp);
  };
  forEachMcu(ctx, mcusX, mcusY, (mx, my) => {
    void my;
    if (single) return decodeOne(c0, mx, 0);
    for (const c of ctx.comps) for (let v = 0; v < c.v; v++) for (let h = 0; h < c.h; h++) decodeOne(c, mx * c.h + h, v);
  }, (my) => emitRows(comps, plan, my, out, o, info.color));
}

/** Decode one scan of a progressive (or multi-scan sequential) JPEG into the coefficient planes. */
function decodeScanToCoefficients(ctx: ScanContext, comps: Comp[], blk: Int32Array): void {
  const { bits, ss, se, ah, al } = ctx;
  for (const c of comps) c.pred = 0;
  ctx.eobrun = 0;
  let decodeBlock: (c: Comp, b: number) => void;
  if (!ctx.progressive) {
    decodeBlock = (c, b) => {
      decodeBlockSequential(bits, c, blk);
      const base = b * c.keep;
      for (let z = 0; z < 64; z++) if (c.keepIndex[z] >= 0) c.coefs![base + c.keepIndex[z]] = blk[z];
    };
  } else if (ss === 0) {
    decodeBlock = ah === 0 ? (c, b) => dcFirst(bits, c, b, al) : (c, b) => dcRefine(bits, c, b, al);
  } else {
    decodeBlock = ah === 0 ? (c, b) => acFirst(ctx, c, b) : (c, b) => acRefine(ctx, c, b);
  }
  if (ctx.comps.length === 1) {
    const c = ctx.comps[0];
    forEachMcu(ctx, c.bw, c.bh, (bx, by) => decodeBlock(c, by * c.bwp + bx));
  } else {
    forEachMcu(ctx, ctx.mcusX, ctx.mcusY, (mx, my) => {
      for (const c of ctx.comps) for (let v = 0; v < c.v; v++) for (let h = 0; h < c.h; h++) decodeBlock(c, (my * c.v + v) * c.bwp + mx * c.h + h);
    });
  }
}

// Progressive decoding procedures (T.81 G.1.2). Successive-approximation refinement must know which coefficients are
// already non-zero: every block keeps a 64-bit mask of them in zigzag order (bit k = the k-th coefficient), for kept
// and dropped frequencies alike, so a refinement visits only the set bits. A dropped frequency's value is never
// needed, only whether it is zero.

/** Zigzag index → kept-layout index (or −1) for a component. */
function keptByZigzag(c: Comp): Int8Array {
  const t = new Int8Array(64);
  for (let k = 0; k < 64; k++) t[k] = c.keepIndex[ZIGZAG[k]];
  return t;
}

function dcFirst(bits: BitReader, c: Comp, b: number, al: number): void {
  const t = bits.decode(c.dc);
  if (t > 16) throw corrupt(`DC difference category ${t}`);
  c.pred += bits.receiveExtend(t);
  c.coefs![b * c.keep] = c.pred * (1 << al);
}

function dcRefine(bits: BitReader, c: Comp, b: number, al: number): void {
  if (bits.bit()) c.coefs![b * c.keep] |= 1 << al;
}

function acFirst(ctx: ScanContext, c: Comp, b: number): void {
  if (ctx.eobrun > 0) {
    ctx.eobrun--;
    return;
  }
  const { bits, se, al } = ctx;
  const coefs = c.coefs!, base = b * c.keep, kz = c.keptZ!, nonzero = c.nonzero!;
  for (let k = ctx.ss; k <= se;) {
    const rs = bits.decode(c.ac);
    const r = rs >> 4, s = rs & 15;
    if (s === 0) {
      if (r < 15) {
        ctx.eobrun = (1 << r) - 1 + bits.bits(r);
        break;
      }
      k += 16;
      continue;
    }
    k += r;
    if (k > se) throw corrupt('AC coefficient run past the end of the spectral band');
    const v = bits.receiveExtend(s) * (1 << al);
    const i = kz[k];
    if (i >= 0) coefs[base + i] = v;
    nonzero[2 * b + (k >> 5)] |= 1 << (k & 31);
    k++;
  }
}

function acRefine(ctx: ScanContext, c: Comp, b: number): void {
  const { bits, se, al } = ctx;
  const p1 = 1 << al, m1 = -1 << al;
  const coefs = c.coefs!, base = b * c.keep, kz = c.keptZ!, nonzero = c.nonzero!;
  const w = 2 * b;
  let k = ctx.ss;
  if (ctx.eobrun === 0) {
    for (; k <= se; k++) {
      const rs = bits.decode(c.ac);
      let r = rs >> 4;
      const s = rs & 15;
      let value = 0;
      if (s !== 0) {
        if (s !== 1) throw corrupt('refinement scan with a coefficient of magnitude category > 1');
        value = bits.bit() ? p1 : m1;
      } else if (r !== 15) {
        ctx.eobrun = (1 << r) + bits.bits(r);
        break;
      }
      // pass r zero-history coefficients (and the non-zero ones among them, each refined by one bit)
      for (; k <= se; k++) {
        if ((nonzero[w + (k >> 5)] >>> (k & 31)) & 1) {
          const correction = bits.bit();
          const i = kz[k];
          if (correction && i >= 0) {
            const v = coefs[base + i];
            if ((v & p1) === 0) coefs[base + i] = v >= 0 ? v + p1 : v + m1;
          }
        } else {
          if (r === 0) break;
          r--;
        }
      }
      if (value !== 0) {
        if (k > se) throw corrupt('refinement run past the end of the spectral band');
        const i = kz[k];
        if (i >= 0) coefs[base + i] = value;
        nonzero[w + (k >> 5)] |= 1 << (k & 31);
      }
    }
  }
  if (ctx.eobrun > 0) {
    // the rest of the band is zero-history: only its non-zero coefficients are refined, visited by their mask bits
    for (let word = k >> 5; word <= se >> 5; word++) {
      let m = nonzero[w + word];
      if (word === k >> 5) m &= -1 << (k & 31);
      while (m !== 0) {
        const bit = 31 - Math.clz32(m & -m);
        const kk = word * 32 + bit;
        if (kk > se) break;
        m &= m - 1;
        const correction = bits.bit();
        const i = kz[kk];
        if (correction && i >= 0) {
          const v = coefs[base + i];
          if ((v & p1) === 0) coefs[base + i] = v >= 0 ? v + p1 : v + m1;
        }
      }
    }
    ctx.eobrun--;
  }
}

// --- colour conversion and output -----------------------------------------------------------------------------

// YCbCr → RGB (JFIF / ITU-R BT.601 full range): R = Y + 1.402·(Cr−128), G = Y − 0.344136·(Cb−128) − 0.714136·(Cr−128),
// B = Y + 1.772·(Cb−128), each rounded to the nearest integer. The G term is kept in 16.16 fixed point.
const CR_R = new Int32Array(256);
const CB_B = new Int32Array(256);
const CB_G = new Int32Array(256);
const CR_G = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  const x = i - 128;
  CR_R[i] = Math.round(1.402 * x);
  CB_B[i] = Math.round(1.772 * x);
  CB_G[i] = Math.round(-0.344136286 * x * 65536);
  CR_G[i] = Math.round(-0.714136286 * x * 65536) + 32768;
}
const clamp8 = (x: number) => (x < 0 ? 0 : x > 255 ? 255 : x);

/** Colour-convert the rows of MCU row `my` (one strip per component) into the upright RGBA output. */
function emitRows(comps: Comp[], plan: JpegPlan, my: number, out: Uint8Array, o: Orientation, color: JpegColor): void {
  const mcuH = (8 / plan.scale) * plan.vmax;
  const y0 = my * mcuH;
  const yEnd = Math.min(y0 + mcuH, plan.height);
  const W = plan.width, H = plan.height;
  for (let y = y0; y < yEnd; y++) {
    const { base, step } = orientedRow(o, W, H, y);
    const yy = y - y0;
    const c0 = comps[0];
    const s0 = c0.strip, r0 = Math.floor(yy / c0.ry) * c0.stripW, x0 = c0.colIndex;
    if (color === 'grey') {
      for (let x = 0, d = base * 4; x < W; x++, d += step * 4) {
        const g = s0[r0 + x0[x]];
        out[d] = g; out[d + 1] = g; out[d + 2] = g; out[d + 3] = 255;
      }
      continue;
    }
    const c1 = comps[1], c2 = comps[2];
    const s1 = c1.strip, r1 = Math.floor(yy / c1.ry) * c1.stripW, x1 = c1.colIndex;
    const s2 = c2.strip, r2 = Math.floor(yy / c2.ry) * c2.stripW, x2 = c2.colIndex;
    if (color === 'ycbcr') {
      for (let x = 0, d = base * 4; x < W; x++, d += step * 4) {
        const Y = s0[r0 + x0[x]], cb = s1[r1 + x1[x]], cr = s2[r2 + x2[x]];
        out[d] = clamp8(Y + CR_R[cr]);
        out[d + 1] = clamp8(Y + ((CB_G[cb] + CR_G[cr]) >> 16));
        out[d + 2] = clamp8(Y + CB_B[cb]);
        out[d + 3] = 255;
      }
    } else if (color === 'rgb') {
      for (let x = 0, d = base * 4; x < W; x++, d += step * 4) {
        out[d] = s0[r0 + x0[x]]; out[d + 1] = s1[r1 + x1[x]]; out[d + 2] = s2[r2 + x2[x]]; out[d + 3] = 255;
      }
    } else {
      // CMYK. Adobe (Photoshop) writes it inverted: a stored 255 means no ink, and RGB = stored C·K / 255. YCCK is
      // that inverted CMYK with C, M, Y carried as YCbCr (libjpeg: C = 255 − R(Y, Cb, Cr), K as stored). A 4-component
      // file without an Adobe segment is read the same way, as libjpeg-turbo's djpeg and PIL do.
      const c3 = comps[3];
      const s3 = c3.strip, r3 = Math.floor(yy / c3.ry) * c3.stripW, x3 = c3.colIndex;
      for (let x = 0, d = base * 4; x < W; x++, d += step * 4) {
        let c = s0[r0 + x0[x]], m = s1[r1 + x1[x]], ye = s2[r2 + x2[x]];
        const k = s3[r3 + x3[x]];
        if (color === 'ycck') {
          const Y = c, cb = m, cr = ye;
          c = 255 - clamp8(Y + CR_R[cr]);
          m = 255 - clamp8(Y + ((CB_G[cb] + CR_G[cr]) >> 16));
          ye = 255 - clamp8(Y + CB_B[cb]);
        }
        out[d] = ((c * k + 127) / 255) | 0;
        out[d + 1] = ((m * k + 127) / 255) | 0;
        out[d + 2] = ((ye * k + 127) / 255) | 0;
        out[d + 3] = 255;
      }
    }
  }
}
