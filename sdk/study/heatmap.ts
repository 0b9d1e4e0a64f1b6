// Attention heatmaps as a PNG: one row per scheme, three panels per row — the image as the model sees it
// (preprocessed, de-normalised), the last layer's class-token attention over the patch grid (heads averaged), and the
// attention rollout, both drawn over the image. Each map is scaled min–max to [0, 1] and drawn with an inferno-like
// colour map at OVERLAY opacity.

import { encodePng as encode } from '../image/encode.js';
import { VitguardError } from '../errors.js';
import type { ModelMeta } from '../format/model.js';

export const OVERLAY = 0.65;

const STOPS: Array<[number, number, number]> = [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]];

/** t in [0, 1] → RGB. */
export function colormap(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x)), f = x - i;
  const a = STOPS[i], b = STOPS[i + 1];
  return [0, 1, 2].map((c) => Math.round(a[c] + f * (b[c] - a[c]))) as [number, number, number];
}

export interface HeatmapRow {
  /** Normalised CHW [C, S, S] the model ran on. */
  chw: Float32Array;
  grid: number;
  map: Float32Array; // [grid·grid]
  rollout: Float32Array; // [grid·grid]
}

/** RGB PNG bytes: rows × 3 panels of `panel` pixels with `gap` white pixels between them. */
export function heatmapPng(rows: HeatmapRow[], meta: ModelMeta, panel = 112, gap = 4): Uint8Array {
  if (rows.length === 0) throw new VitguardError('E_INPUT', 'heatmap needs at least one row');
  const { imgSize: S, inChans: C } = meta.config;
  const { mean, std } = meta.preprocessing;
  const W = 3 * panel + 4 * gap, H = rows.length * panel + (rows.length + 1) * gap;
  const px = new Uint8Array(W * H * 3).fill(255);
  const put = (x: number, y: number, rgb: ArrayLike<number>) => { const o = (y * W + x) * 3; px[o] = rgb[0]; px[o + 1] = rgb[1]; px[o + 2] = rgb[2]; };
  rows.forEach((r, ri) => {
    const y0 = gap + ri * (panel + gap);
    if (r.chw.length !== C * S * S) throw new VitguardError('E_INPUT', `heatmap row ${ri}: image has ${r.chw.length} values, expected ${C * S * S}`);
    if (r.map.length !== r.grid * r.grid || r.rollout.length !== r.grid * r.grid) throw new VitguardError('E_INPUT', `heatmap row ${ri}: maps must be ${r.grid}×${r.grid}`);
    const range = (m: Float32Array) => {
      let lo = Infinity, hi = -Infinity;
      for (const x of m) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
      return (x: number) => (hi > lo ? (x - lo) / (hi - lo) : 0);
    };
    const nm = range(r.map), nr = range(r.rollout);
    for (let y = 0; y < panel; y++) {
      for (let x = 0; x < panel; x++) {
        const sx = Math.floor((x * S) / panel), sy = Math.floor((y * S) / panel);
        const rgb = [0, 1, 2].map((ch) => {
          const c = Math.min(ch, C - 1);
          return Math.round(Math.min(255, Math.max(0, (r.chw[(c * S + sy) * S + sx] * std[c] + mean[c]) * 255)));
        });
        put(gap + x, y0 + y, rgb);
        const g = Math.floor((y * r.grid) / panel) * r.grid + Math.floor((x * r.grid) / panel);
        const over = (heat: [number, number, number]) => heat.map((h, ch) => Math.round(OVERLAY * h + (1 - OVERLAY) * rgb[ch]));
        put(2 * gap + panel + x, y0 + y, over(colormap(nm(r.map[g]))));
        put(3 * gap + 2 * panel + x, y0 + y, over(colormap(nr(r.rollout[g]))));
      }
    }
  });
  return encode({ width: W, height: H, data: px, channels: 3, depth: 8 });
}
