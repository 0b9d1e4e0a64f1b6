import { describe, expect, it } from 'vitest';
import { preprocess } from '../../sdk/image/preprocess.js';
import { VitguardError } from '../../sdk/errors.js';

const pre = { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], cropPct: 1, interpolation: 'bicubic' as const };

describe('preprocess', () => {
  it('normalises an image already at the model size without resampling', () => {
    const data = new Uint8Array(4 * 4 * 4);
    for (let i = 0; i < 16; i++) data.set([i * 16, 255 - i * 16, 51, 255], i * 4);
    const x = preprocess({ data, width: 4, height: 4 }, pre, 4, 3);
    expect(x.length).toBe(48);
    expect(x[5]).toBeCloseTo((80 / 255 - 0.5) / 0.25, 6); // R of pixel 5
    expect(x[16 + 5]).toBeCloseTo((175 / 255 - 0.5) / 0.25, 6); // G plane
    expect(x[32]).toBeCloseTo((51 / 255 - 0.5) / 0.25, 6);
  });

  it('keeps a constant image constant through bicubic and bilinear resizing and the centre crop', () => {
    const data = new Uint8Array(37 * 23).fill(200);
    for (const interpolation of ['bicubic', 'bilinear'] as const) {
      const x = preprocess({ data, width: 37, height: 23, channels: 1 }, { mean: [0], std: [1], cropPct: 0.875, interpolation }, 14, 1);
      for (const v of x) expect(v).toBeCloseTo(200 / 255, 5);
    }
  });

  it('resizes the short side to floor(size / crop_pct) and crops the centre', () => {
    // a 64×32 image whose left half is black and right half white, crop 0.5 → short side 32 (no resize), crop 16×16 centre
    const w = 64, h = 32;
    const data = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 32; x < w; x++) data[y * w + x] = 255;
    const x = preprocess({ data, width: w, height: h, channels: 1 }, { mean: [0], std: [1], cropPct: 0.5, interpolation: 'bilinear' }, 16, 1);
    // the crop spans columns 24..39: first 8 black, last 8 white
    expect(x[0]).toBe(0);
    expect(x[7]).toBe(0);
    expect(x[8]).toBe(1);
    expect(x[15]).toBe(1);
  });

  it('turns RGB into luma for 1-channel models and grey into RGB for 3-channel models', () => {
    const rgba = Uint8Array.from([255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 10, 20, 30, 255]);
    const g = preprocess({ data: rgba, width: 2, height: 2 }, { mean: [0], std: [1], cropPct: 1, interpolation: 'bicubic' }, 2, 1);
    expect(g[0]).toBeCloseTo(0.299, 6);
    expect(g[1]).toBeCloseTo(0.587, 6);
    expect(g[2]).toBeCloseTo(0.114, 6);
    const rgb = preprocess({ data: Uint8Array.from([0, 64, 128, 255]), width: 2, height: 2, channels: 1 }, { ...pre, mean: [0, 0, 0], std: [1, 1, 1] }, 2, 3);
    expect(Array.from(rgb.slice(4, 8))).toEqual(Array.from(rgb.slice(0, 4)));
  });

  it('rejects zero-size, 1×1 and inconsistent images with E_IMAGE', () => {
    for (const img of [
      { data: new Uint8Array(0), width: 0, height: 0 },
      { data: new Uint8Array(4), width: 1, height: 1 },
      { data: new Uint8Array(10), width: 4, height: 4 },
    ]) {
      expect(() => preprocess(img, pre, 4, 3)).toThrow(VitguardError);
      try { preprocess(img, pre, 4, 3); } catch (e) { expect((e as VitguardError).code).toBe('E_IMAGE'); }
    }
  });
});
