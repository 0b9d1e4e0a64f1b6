// Image preprocessing as timm evaluates: resize the short side to floor(imgSize / cropPct) with a PIL-style
// antialiased filter (bicubic a = −0.5, or bilinear), centre-crop imgSize × imgSize, scale to [0, 1], normalise
// with mean/std → Float32 CHW. Channel adaptation: an RGB(A) image for a 1-channel model becomes luma
// (ITU-R 601, as PIL's convert('L')); a grey image for a 3-channel model is replicated.

import { VitguardError } from '../errors.js';
import type { Preprocessing } from '../format/model.js';

export interface RawImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  /** Interleaved channels per pixel; default 4 (RGBA, as ImageData). */
  channels?: 1 | 3 | 4;
}

function filterFor(interp: Preprocessing['interpolation']): { support: number; f: (x: number) => number } {
  if (interp === 'bilinear') return { support: 1, f: (x) => (x < 0 ? -x : x) < 1 ? 1 - Math.abs(x) : 0 };
  const a = -0.5; // PIL's bicubic
  return {
    support: 2,
    f: (x) => {
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  };
}

/** Per output index: first source index and normalised weights (PIL's precompute_coeffs). */
function resampleCoeffs(inSize: number, outSize: number, interp: Preprocessing['interpolation']) {
  const { support, f } = filterFor(interp);
  const scale = inSize / outSize;
  const fscale = Math.max(scale, 1);
  const sup = support * fscale;
  const starts = new Int32Array(outSize);
  const counts = new Int32Array(outSize);
  const ksize = Math.ceil(sup) * 2 + 1;
  const weights = new Float32Array(outSize * ksize);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - sup + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + sup + 0.5), inSize);
    let total = 0;
    for (let x = xmin; x < xmax; x++) {
      const w = f((x - center + 0.5) / fscale);
      weights[i * ksize + x - xmin] = w;
      total += w;
    }
    for (let x = xmin; x < xmax; x++) weights[i * ksize + x - xmin] /= total || 1;
    starts[i] = xmin;
    counts[i] = xmax - xmin;
  }
  return { starts, counts, weights, ksize };
}

/** Separable resize of a planar float image [C, h, w] → [C, oh, ow]. */
function resizePlanar(src: Float32Array, c: number, h: number, w: number, oh: number, ow: number, interp: Preprocessing['interpolation']): Float32Array {
  if (h === oh && w === ow) return src;
  const cx = resampleCoeffs(w, ow, interp);
  const cy = resampleCoeffs(h, oh, interp);
  const tmp = new Float32Array(c * h * ow);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      const row = (ch * h + y) * w;
      for (let x = 0; x < ow; x++) {
        let s = 0;
        const st = cx.starts[x], base = x * cx.ksize;
        for (let k = 0; k < cx.counts[x]; k++) s += src[row + st + k] * cx.weights[base + k];
        tmp[(ch * h + y) * ow + x] = s;
      }
    }
  }
  const out = new Float32Array(c * oh * ow);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < oh; y++) {
      const st = cy.starts[y], base = y * cy.ksize;
      for (let x = 0; x < ow; x++) {
        let s = 0;
        for (let k = 0; k < cy.counts[y]; k++) s += tmp[(ch * h + st + k) * ow + x] * cy.weights[base + k];
        // PIL clamps to the 8-bit range after resampling; bicubic overshoot is clipped the same way.
        out[(ch * oh + y) * ow + x] = s < 0 ? 0 : s > 255 ? 255 : s;
      }
    }
  }
  return out;
}

/** Check an image and return its channel count; every failure is E_IMAGE / E_NONFINITE. */
export function checkImage(img: RawImage): 1 | 3 | 4 {
  const ch = img.channels ?? 4;
  if (![1, 3, 4].includes(ch)) throw new VitguardError('E_IMAGE', `image has ${ch} channels; expected 1, 3 or 4`);
  if (!Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width <= 0 || img.height <= 0) {
    throw new VitguardError('E_IMAGE', `image is ${img.width}×${img.height}: width and height must be positive integers`);
  }
  if (img.width < 2 || img.height < 2) {
    throw new VitguardError('E_IMAGE', `image is ${img.width}×${img.height}: too small to resize meaningfully (need at least 2×2)`);
  }
  if (!img.data || img.data.length !== img.width * img.height * ch) {
    throw new VitguardError('E_IMAGE', `image data has ${img.data?.length} values, expected ${img.width}×${img.height}×${ch} = ${img.width * img.height * ch}`);
  }
  return ch as 1 | 3 | 4;
}

/** Pixels → normalised Float32 CHW [inChans, imgSize, imgSize], ready for Engine.forward. */
export function preprocess(img: RawImage, pre: Preprocessing, imgSize: number, inChans: number): Float32Array {
  const ch = checkImage(img);
  const { width: w, height: h } = img;
  const src = img.data;
  // Planar float in the model's channel count, values 0..255.
  const planar = new Float32Array(inChans * h * w);
  for (let i = 0; i < w * h; i++) {
    const p = i * ch;
    if (inChans === 1) {
      planar[i] = ch === 1 ? src[p] : (src[p] * 299 + src[p + 1] * 587 + src[p + 2] * 114) / 1000;
    } else {
      for (let c = 0; c < inChans; c++) planar[c * w * h + i] = ch === 1 ? src[p] : src[p + Math.min(c, 2)];
    }
  }
  // Resize short side to floor(imgSize / cropPct), keeping aspect ratio (torchvision Resize(int)).
  const target = Math.floor(imgSize / pre.cropPct + 1e-9);
  let oh: number, ow: number;
  if (Math.min(w, h) === target) { ow = w; oh = h; }
  else if (w <= h) { ow = target; oh = Math.floor((target * h) / w); }
  else { oh = target; ow = Math.floor((target * w) / h); }
  const resized = resizePlanar(planar, inChans, h, w, oh, ow, pre.interpolation);
  if (oh < imgSize || ow < imgSize) throw new VitguardError('E_IMAGE', `resized image ${ow}×${oh} is smaller than the crop ${imgSize}`);
  // Centre crop as torchvision: top = round((h − th) / 2).
  const top = Math.round((oh - imgSize) / 2);
  const left = Math.round((ow - imgSize) / 2);
  const out = new Float32Array(inChans * imgSize * imgSize);
  for (let c = 0; c < inChans; c++) {
    const m = pre.mean[c], s = pre.std[c];
    for (let y = 0; y < imgSize; y++) {
      for (let x = 0; x < imgSize; x++) {
        out[(c * imgSize + y) * imgSize + x] = (resized[(c * oh + y + top) * ow + x + left] / 255 - m) / s;
      }
    }
  }
  return out;
}
