// The PNG and JPEG decoders (sdk/image/png.ts, jpeg.ts) against reference pixels, on the committed fixtures written
// by tools/make-image-fixtures.sh:
//   PNG  — bit for bit against fast-png (the decoder vitguard used before), every colour type × bit depth.
//   JPEG — full scale: against libjpeg-turbo's djpeg (-dct float -nosmooth: float IDCT, replicated chroma), at most
//          2 levels off (observed: 0 on all but two files, 1–2 on the YCCK, mixed-sampling and 16-bit-table files),
//          and against jpeg-js within its integer IDCT and truncating colour conversion: at most 3 levels, mean < 0.7.
//          Reduced 1/2, 1/4, 1/8: against the box average of our own full-scale decode (a scaled IDCT keeps the
//          block's low frequencies, a box filter averages: at most 16 levels apart at sharp chroma edges, mean < 3;
//          < 3.5 on the 17×9 file, where edge blocks padded by the encoder are most of the picture),
//          and at 1/8 on 4:4:4 and grey, where both are the DC term alone, exactly djpeg -scale 1/8.
import { readdirSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { decodeImage, readImageHeader, type DecodedImage } from '../../sdk/image/decode.js';
import { encodePng } from '../../sdk/image/encode.js';
import { legacyDecodeJpeg, legacyDecodePng } from './legacy-decode.js';
import { IMAGES, PNG_SIGNATURE, concat, fixture, ihdr, reference, rgbDiff, thrown } from './helpers.js';

const names = (dir: string, ext: string) => readdirSync(`${IMAGES}/${dir}`).filter((f) => f.endsWith(ext) && !f.includes('.ref')).sort();

/** Box average (round half up) of an RGBA image by s, partial boxes at the right and bottom edges averaged over what they hold. */
function boxAverage(d: { data: Uint8Array; width: number; height: number }, s: number): Uint8Array {
  const W = Math.ceil(d.width / s), H = Math.ceil(d.height / s);
  const out = new Uint8Array(W * H * 4);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 4; c++) {
    let sum = 0, n = 0;
    for (let yy = y * s; yy < Math.min(d.height, y * s + s); yy++) for (let xx = x * s; xx < Math.min(d.width, x * s + s); xx++) { sum += d.data[(yy * d.width + xx) * 4 + c]; n++; }
    out[(y * W + x) * 4 + c] = Math.floor(sum / n + 0.5);
  }
  return out;
}

/** Decode at reduction s, with the minShortSide that leads there (null if none does: tiny images skip some scales). */
function decodeAt(bytes: Uint8Array, s: number): DecodedImage | null {
  const h = readImageHeader(bytes);
  const short = Math.min(Math.ceil(h.width / s), Math.ceil(h.height / s));
  for (let m = Math.floor(short / 2); m >= 1; m--) {
    const d = decodeImage(bytes, { minShortSide: m });
    if (d.scale === s) return d;
    if (d.scale > s) break;
  }
  return null;
}

describe('PNG', () => {
  test.each(names('png', '.png'))('%s equals fast-png', (f) => {
    const d = decodeImage(fixture(`png/${f}`));
    // fast-png cannot read interlaced images below 8 bits: those compare with their non-interlaced twin
    const ref = legacyDecodePng(fixture(`png/${/^(grey-2|palette-4)-interlaced/.test(f) ? f.replace('-interlaced', '') : f}`));
    expect([d.format, d.width, d.height, d.channels, d.scale, d.orientation]).toEqual(['png', ref.width, ref.height, ref.channels, 1, 1]);
    expect([d.sourceWidth, d.sourceHeight]).toEqual([ref.width, ref.height]);
    expect(Buffer.from(d.data).equals(Buffer.from(ref.data))).toBe(true);
  });

  test('the fixtures cover every colour type × bit depth, interlaced and not, with tRNS', () => {
    const kinds = new Set(names('png', '.png').map((f) => { const h = readImageHeader(fixture(`png/${f}`)); return `${h.color}/${h.bitDepth}${h.interlaced ? 'i' : ''}`; }));
    for (const k of ['grey/1', 'grey/2', 'grey/4', 'grey/8', 'grey/16', 'rgb/8', 'rgb/16', 'palette/1', 'palette/2', 'palette/4', 'palette/8', 'grey+alpha/8', 'grey+alpha/16', 'rgba/8', 'rgba/16', 'rgba/8i', 'rgb/16i', 'grey/2i', 'palette/4i', 'grey+alpha/16i']) {
      expect(kinds.has(k), k).toBe(true);
    }
    // alpha from tRNS: palette entries, a grey key, an RGB key (8 and 16 bits)
    for (const f of ['palette-trns', 'grey-key-8', 'rgb-key-8', 'rgb-key-16']) {
      const d = decodeImage(fixture(`png/${f}.png`));
      expect(d.channels, f).toBe(4);
      expect(d.data.some((v, i) => i % 4 === 3 && v === 0), f).toBe(true);
    }
  });

  test('reduced: the box average of the full image, exactly', () => {
    for (const f of ['rgb-8', 'rgba-16', 'grey-2', 'palette-trns', 'grey-alpha-8', 'rgba-8-interlaced', 'palette-4-interlaced', 'rgb-key-8']) {
      const full = decodeImage(fixture(`png/${f}.png`));
      for (const s of [2, 3, 5, 11]) {
        const d = decodeImage(fixture(`png/${f}.png`), { minShortSide: Math.ceil(23 / s) / 2 });
        expect(d.scale, `${f} ${s}`).toBe(s);
        expect([d.width, d.height]).toEqual([Math.ceil(37 / s), Math.ceil(23 / s)]);
        expect(Buffer.from(d.data).equals(Buffer.from(boxAverage(full, s))), `${f} 1/${s}`).toBe(true);
      }
    }
  });
});

describe('JPEG', () => {
  /** Files jpeg-js decodes correctly (it takes Adobe RGB for YCbCr and refuses CMYK without an Adobe marker). */
  const jpegJsReads = (f: string) => !['rgb.jpg', 'cmyk-plain.jpg'].includes(f);

  test.each(names('jpeg', '.jpg'))('%s at full scale: djpeg within 2, jpeg-js within 3', (f) => {
    const bytes = fixture(`jpeg/${f}`);
    const d = decodeImage(bytes);
    const ref = reference(`jpeg/${f.replace('.jpg', '.ref.png')}`);
    expect([d.format, d.width, d.height, d.scale]).toEqual(['jpeg', ref.width, ref.height, 1]);
    const r = rgbDiff(d.data, ref.data);
    expect(r.max, 'vs djpeg').toBeLessThanOrEqual(2);
    expect(r.mean, 'vs djpeg').toBeLessThan(0.2);
    if (jpegJsReads(f)) {
      const j = rgbDiff(d.data, legacyDecodeJpeg(bytes).data);
      expect(j.max, 'vs jpeg-js').toBeLessThanOrEqual(3);
      expect(j.mean, 'vs jpeg-js').toBeLessThan(0.7);
    }
    expect(d.channels).toBe(f.includes('grey') ? 1 : 3);
  });

  test.each(names('jpeg', '.jpg').filter((f) => !f.startsWith('odd-1x1')))('%s reduced 1/2, 1/4, 1/8 ≈ box average of the full decode', (f) => {
    const bytes = fixture(`jpeg/${f}`);
    const full = decodeImage(bytes);
    let reached = 0;
    for (const s of [2, 4, 8]) {
      const d = decodeAt(bytes, s);
      if (!d) continue; // a short side of 3 (4001×3) or 9 cannot ask for every scale
      reached++;
      expect([d.width, d.height]).toEqual([Math.ceil(full.width / s), Math.ceil(full.height / s)]);
      const r = rgbDiff(d.data, boxAverage(full, s));
      expect(r.max, `1/${s}`).toBeLessThanOrEqual(16);
      expect(r.mean, `1/${s}`).toBeLessThan(full.width < 20 ? 3.5 : 3); // 17×9: edge blocks are most of it
    }
    expect(reached).toBeGreaterThanOrEqual(Math.min(full.width, full.height) >= 32 ? 3 : 1);
  });

  test('1/8 is the DC term: exactly djpeg -scale 1/8 on 4:4:4, grey and YCCK; other scales near djpeg', () => {
    for (const n of ['baseline-444', 'grey', 'ycck']) expect(rgbDiff(decodeAt(fixture(`jpeg/${n}.jpg`), 8)!.data, reference(`jpeg/${n}.ref-s8.png`).data).max, n).toBe(0);
    // djpeg's reduced IDCTs differ from ours (and it replicates 4:2:2 chroma where we transform it): close, not equal
    for (const n of ['baseline-420', 'baseline-444', 'grey', 'progressive', 'progressive-14-scans', 'ycck', 'odd-17x9']) {
      for (const s of [2, 4]) {
        const bytes = fixture(`jpeg/${n}.jpg`);
        const h = readImageHeader(bytes);
        const d = decodeAt(bytes, s);
        if (!d) continue;
        const r = rgbDiff(d.data, reference(`jpeg/${n}.ref-s${s}.png`).data);
        expect(r.mean, `${n} 1/${s}`).toBeLessThan(h.width < 20 ? 3.5 : 2.5);
      }
    }
  });

  test('progressive, restart and multi-scan files decode to the same pixels as their baseline source', () => {
    // jpegtran -scans rewrites the entropy coding only: the 14-scan file holds the same coefficients as baseline-420
    const base = decodeImage(fixture('jpeg/baseline-420.jpg')).data;
    for (const f of ['progressive-14-scans', 'progressive', 'progressive-restart', 'restart-every-mcu']) {
      expect(Buffer.from(decodeImage(fixture(`jpeg/${f}.jpg`)).data).equals(Buffer.from(base)), f).toBe(true);
      for (const s of [2, 4, 8]) expect(Buffer.from(decodeAt(fixture(`jpeg/${f}.jpg`), s)!.data).equals(Buffer.from(decodeAt(fixture('jpeg/baseline-420.jpg'), s)!.data)), `${f} 1/${s}`).toBe(true);
    }
  });

  test('headers: progressive, components, colour model, 16-bit tables', () => {
    const h = (f: string) => readImageHeader(fixture(`jpeg/${f}.jpg`));
    expect(h('progressive-14-scans')).toMatchObject({ format: 'jpeg', width: 67, height: 45, channels: 3, bitDepth: 8, color: 'ycbcr', progressive: true, interlaced: false, orientation: 1 });
    expect(h('grey')).toMatchObject({ channels: 1, color: 'grey', progressive: false });
    expect(h('rgb').color).toBe('rgb');
    expect(h('cmyk-adobe')).toMatchObject({ channels: 4, color: 'cmyk' });
    expect(h('ycck')).toMatchObject({ channels: 4, color: 'ycck' });
    expect(h('odd-4001x3')).toMatchObject({ width: 4001, height: 3 });
  });
});

describe('EXIF orientation', () => {
  test.each(['png', 'jpg'])('every orientation 1..8 comes out upright (%s)', (ext) => {
    const up = decodeImage(fixture(`orient/upright.${ext}`));
    for (let o = 1; o <= 8; o++) {
      const bytes = fixture(`orient/o${o}.${ext}`);
      expect(readImageHeader(bytes).orientation).toBe(o);
      const d = decodeImage(bytes);
      expect([d.width, d.height, d.orientation], `o${o}`).toEqual([up.width, up.height, o]);
      // JPEG: jpegtran turned the coefficients losslessly, and a transposed block's IDCT is the transposed IDCT
      expect(rgbDiff(d.data, up.data).max, `o${o}`).toBe(0);
      const stored = decodeImage(bytes, { autoOrient: false });
      expect([stored.width, stored.height]).toEqual(o >= 5 ? [up.height, up.width] : [up.width, up.height]);
      if (o !== 1) expect(Buffer.from(stored.data).equals(Buffer.from(up.data))).toBe(false);
      // reduced decodes are turned too
      if (ext === 'jpg') {
        const r = decodeImage(bytes, { minShortSide: 1 }); // 16×8 → 1/4: 4×2
        expect([r.scale, r.width, r.height]).toEqual([4, 4, 2]);
        expect(Buffer.from(r.data).equals(Buffer.from(decodeImage(fixture('orient/upright.jpg'), { minShortSide: 1 }).data))).toBe(true);
      }
    }
  });
});

describe('readImageHeader', () => {
  test('reads what the file declares without decoding, and refuses garbage with E_IMAGE', () => {
    expect(readImageHeader(fixture('bomb-20000.png'))).toMatchObject({ format: 'png', width: 20000, height: 20000, channels: 1, bitDepth: 8, color: 'grey' });
    expect(readImageHeader(fixture('phone-4000x3000.jpg'))).toMatchObject({ format: 'jpeg', width: 4000, height: 3000, orientation: 6, progressive: false });
    expect(readImageHeader(fixture('phone-4000x3000-progressive.jpg'))).toMatchObject({ progressive: true, orientation: 6 });
    expect(readImageHeader(fixture('png/rgba-8-interlaced.png'))).toMatchObject({ interlaced: true, color: 'rgba', channels: 4 });
    const png = fixture('png/rgb-8.png'), jpg = fixture('jpeg/baseline-420.jpg');
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array(0), /empty image/],
      [new TextEncoder().encode('GIF89a....'), /unknown image format/],
      [png.subarray(0, 20), /truncated/],
      [concat(PNG_SIGNATURE, ihdr(0, 23, 8, 2)), /IHDR declares 0×23/],
      [concat(PNG_SIGNATURE, ihdr(5, 5, 3, 2)), /bit depth 3 for colour type 2/],
      [concat(PNG_SIGNATURE, ihdr(5, 5, 8, 5)), /colour type 5/],
      [Uint8Array.from([...png.subarray(0, 29), 0, 0, 0, 0]), /CRC mismatch in chunk IHDR/],
      [jpg.subarray(0, 3), /no frame header|truncated/],
      [jpg.subarray(0, 200), /truncated/],
      [Uint8Array.of(0xff, 0xd8, 0xff, 0xe0, 0, 4, 1, 2, 0xff, 0xd9), /no frame header/],
    ];
    for (const [b, re] of cases) {
      const e = thrown(() => readImageHeader(b));
      expect(e.code).toBe('E_IMAGE');
      expect(e.message).toMatch(re);
    }
  });
});

describe('encodePng', () => {
  test('grey, RGB and RGBA round-trip through our decoder and fast-png', () => {
    for (const c of [1, 3, 4] as const) {
      const w = 13, h = 7;
      const data = Uint8Array.from({ length: w * h * c }, (_, i) => (i * 37 + (i >> 3)) & 255);
      const png = encodePng({ width: w, height: h, data, channels: c });
      const ours = decodeImage(png), theirs = legacyDecodePng(png);
      expect(Buffer.from(ours.data).equals(Buffer.from(theirs.data))).toBe(true);
      expect([ours.width, ours.height, ours.channels]).toEqual([w, h, c]);
      for (let i = 0; i < w * h; i++) expect(ours.data[4 * i + (c === 4 ? 3 : 0)]).toBe(data[i * c + (c === 4 ? 3 : 0)]);
    }
    expect(thrown(() => encodePng({ width: 2, height: 2, data: new Uint8Array(5), channels: 1 })).code).toBe('E_INPUT');
  });
});
