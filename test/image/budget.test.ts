// Images within a budget: the declared size is checked against maxPixels and the decode plan against maxDecodeBytes
// before anything large is allocated; large photos and decompression bombs are decoded reduced or refused.
// Fixtures: bomb-8000.png (62 KB, 8000×8000 grey) and bomb-20000.png (390 KB, 20000×20000), the two PNGs of issue 11;
// phone-4000x3000(-progressive).jpg, a 12-megapixel JPEG stored sideways (EXIF orientation 6).
// Times asserted here are loose guards for a shared machine; bench/decode.ts measures them (npm run bench:decode).
import { describe, expect, test } from 'vitest';
import { DEFAULT_MAX_DECODE_BYTES, DEFAULT_MAX_PIXELS, EDGE_IMAGE_LIMITS, decodeImage, planDecode } from '../../sdk/image/decode.js';
import { fixture, thrown } from './helpers.js';

const MiB = 2 ** 20;

const timed = <T>(fn: () => T): [T, number] => {
  const t = performance.now();
  const r = fn();
  return [r, performance.now() - t];
};

describe('decompression bombs', () => {
  test('20000×20000 is refused from its header, before decoding', () => {
    const bytes = fixture('bomb-20000.png');
    const [e, ms] = timed(() => thrown(() => decodeImage(bytes, { minShortSide: 28 })));
    expect(e.code).toBe('E_IMAGE_TOO_LARGE');
    expect(e.message).toMatch(/20000×20000 = 400\.0 megapixels, over the limit of 120\.0 megapixels \(maxPixels\): raise maxPixels/);
    expect(ms).toBeLessThan(100); // reading IHDR only (the whole-file decode took ~1 GB and 6–8 s before)
    expect(thrown(() => planDecode(bytes)).code).toBe('E_IMAGE_TOO_LARGE');
  });

  test('8000×8000 is decoded reduced in a few MB, or refused under the edge limits without minShortSide', () => {
    const bytes = fixture('bomb-8000.png');
    const limits = { maxDecodeBytes: EDGE_IMAGE_LIMITS.maxDecodeBytes }; // 64 MP is over the edge pixel limit (below)
    const plan = planDecode(bytes, { minShortSide: 28, ...limits });
    expect(plan.scale).toBe(145); // ceil(8000 / 145) = 56 = 2·28
    expect(plan.decodeBytes).toBeLessThan(5 * MiB);
    const [d, ms] = timed(() => decodeImage(bytes, { minShortSide: 28, ...limits }));
    expect([d.width, d.height, d.scale, d.sourceWidth]).toEqual([56, 56, 145, 8000]);
    expect(d.data.every((v, i) => v === (i % 4 === 3 ? 255 : 0))).toBe(true);
    expect(ms).toBeLessThan(5000); // ~0.4–0.9 s here: inflating 64 MB is the floor
    // full size needs the 256 MB output: over the edge budget, and the message says what to do
    const e = thrown(() => decodeImage(bytes, limits));
    expect(e.code).toBe('E_IMAGE_TOO_LARGE');
    expect(e.message).toMatch(/8000×8000 PNG at full size needs 24[0-9.]+ MiB, over the limit of 24\.0 MiB \(maxDecodeBytes\): raise maxDecodeBytes, or pass minShortSide/);
    expect(thrown(() => decodeImage(bytes, { ...EDGE_IMAGE_LIMITS, minShortSide: 28 })).message).toMatch(/64\.0 megapixels, over the limit of 50\.0 megapixels/);
  });
});

describe('a 12-megapixel phone photo', () => {
  test.each(['phone-4000x3000.jpg', 'phone-4000x3000-progressive.jpg'])('%s: decoded at 1/8 or 1/4, upright, never at full size', (f) => {
    const bytes = fixture(f);
    const full = planDecode(bytes);
    expect([full.scale, full.width, full.height]).toEqual([1, 3000, 4000]); // orientation 6: portrait
    expect(full.decodeBytes).toBeGreaterThan(48e6); // the RGBA output alone
    // 28×28 model (minShortSide 28) and 224-px model (floor(224 / 0.9) = 248)
    for (const [m, scale, limit] of [[28, 8, 6 * MiB], [248, 4, 12 * MiB]] as const) {
      const plan = planDecode(bytes, { minShortSide: m });
      expect([plan.scale, plan.width, plan.height]).toEqual([scale, 3000 / scale, 4000 / scale]);
      expect(plan.decodeBytes).toBeLessThan(limit);
      // a budget that the full-size output alone would overrun: the reduced decode fits in it
      const d = decodeImage(bytes, { minShortSide: m, maxDecodeBytes: plan.decodeBytes });
      expect([d.width, d.height, d.scale, d.orientation, d.sourceWidth, d.sourceHeight]).toEqual([3000 / scale, 4000 / scale, scale, 6, 4000, 3000]);
    }
    expect(thrown(() => decodeImage(bytes, { maxDecodeBytes: 40 * MiB })).code).toBe('E_IMAGE_TOO_LARGE');
  });

  test('the progressive file keeps only the coefficients its scale needs', () => {
    const base = planDecode(fixture('phone-4000x3000.jpg'), { minShortSide: 28 }).decodeBytes;
    const prog = (m: number) => planDecode(fixture('phone-4000x3000-progressive.jpg'), { minShortSide: m }).decodeBytes;
    // 1/8: DC of every block + an 8-byte non-zero mask (Y) and 2×2 chroma: ~4.5 MB, not the 36 MB of full planes
    expect(prog(28) - base).toBeGreaterThan(2 * MiB);
    expect(prog(28)).toBeLessThan(8 * MiB);
    expect(prog(0)).toBeGreaterThan(36e6 + 48e6);
  });
});

describe('limits and options', () => {
  test('defaults, and bad options are E_INPUT', () => {
    expect(DEFAULT_MAX_PIXELS).toBe(120_000_000);
    expect(DEFAULT_MAX_DECODE_BYTES).toBe(512 * MiB);
    expect(EDGE_IMAGE_LIMITS).toEqual({ maxPixels: 50_000_000, maxDecodeBytes: 24 * MiB });
    const png = fixture('png/rgb-8.png');
    for (const opts of [{ maxPixels: 0 }, { maxPixels: -5 }, { maxDecodeBytes: Number.NaN }, { minShortSide: -1 }, { maxPixels: '9' as unknown as number }]) {
      expect(thrown(() => decodeImage(png, opts)).code).toBe('E_INPUT');
    }
    expect(decodeImage(png, { maxPixels: 37 * 23 }).width).toBe(37); // the limit is inclusive
    expect(thrown(() => decodeImage(png, { maxPixels: 37 * 23 - 1 })).code).toBe('E_IMAGE_TOO_LARGE');
    expect(thrown(() => decodeImage(png, { maxDecodeBytes: 1000 })).message).toMatch(/at full size needs [0-9.]+ MiB, over the limit of 0\.0 MiB/);
  });

  test('planDecode says what decodeImage does', () => {
    for (const [f, m] of [['png/rgba-8-interlaced.png', 3], ['jpeg/progressive.jpg', 5], ['orient/o6.jpg', 1], ['phone-4000x3000.jpg', 100]] as const) {
      const p = planDecode(fixture(f), { minShortSide: m });
      const d = decodeImage(fixture(f), { minShortSide: m });
      expect([p.scale, p.width, p.height, p.orientation], f).toEqual([d.scale, d.width, d.height, d.orientation]);
    }
  });
});
