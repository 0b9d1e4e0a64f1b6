// Hostile and damaged images: every one ends in a decoded image or a VitguardError (E_IMAGE, E_IMAGE_TOO_LARGE),
// quickly, never a RangeError, a hang or a giant allocation. Crafted cases for each guard, then every truncation of
// a few files and a few hundred seeded byte mutations (the fuzzer of issue 11 runs many more).
import { zlibSync } from 'fflate';
import { describe, expect, test } from 'vitest';
import { VitguardError } from '../../sdk/errors.js';
import { decodeImage } from '../../sdk/image/decode.js';
import { PNG_SIGNATURE, concat, fixture, ihdr, pngChunk, rng, thrown } from './helpers.js';

const idatOf = (raw: Uint8Array) => pngChunk('IDAT', zlibSync(raw));
const IEND = pngChunk('IEND', new Uint8Array(0));
/** A 4×2 RGB 8-bit PNG from raw filtered rows (filter byte + 12 bytes per row), with extra chunks before IDAT. */
const rgbPng = (raw: Uint8Array, ...before: Uint8Array[]) => concat(PNG_SIGNATURE, ihdr(4, 2, 8, 2), ...before, idatOf(raw), IEND);
const rows = (filter = 0) => Uint8Array.from({ length: 26 }, (_, i) => (i % 13 === 0 ? filter : i * 7));

function expectImageError(bytes: Uint8Array, re: RegExp, code = 'E_IMAGE'): void {
  const t = performance.now();
  const e = thrown(() => decodeImage(bytes, { minShortSide: 1 }));
  expect(e.code).toBe(code);
  expect(e.message).toMatch(re);
  expect(performance.now() - t).toBeLessThan(500);
}

describe('PNG guards', () => {
  test('the crafted base file decodes', () => {
    const d = decodeImage(rgbPng(rows()));
    expect([d.width, d.height, Array.from(d.data.subarray(0, 4))]).toEqual([4, 2, [7, 14, 21, 255]]);
  });

  test('huge declared chunk lengths are refused or skipped without being read', () => {
    // iCCP / zTXt declaring ~2 GB: refused from the length alone
    for (const type of ['iCCP', 'zTXt', 'tEXt']) {
      expectImageError(rgbPng(rows(), pngChunk(type, new Uint8Array(16), 0x7ffffff0)), new RegExp(`chunk ${type} declares 2147483632 bytes but only`));
    }
    expectImageError(rgbPng(rows(), pngChunk('zTXt', new Uint8Array(16), 0xfffffff0)), /declares 4294967280 bytes \(over 2³¹ − 1\)/);
    // a real 300 KB zTXt and iCCP are skipped: same pixels as without them
    const junk = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 2654435761) >>> 24);
    const plain = decodeImage(rgbPng(rows())).data;
    expect(Buffer.from(decodeImage(rgbPng(rows(), pngChunk('zTXt', junk), pngChunk('iCCP', junk))).data).equals(Buffer.from(plain))).toBe(true);
  });

  test('inflated size must equal what IHDR implies', () => {
    expectImageError(rgbPng(Uint8Array.from([...rows(), 0, 1, 2])), /inflates to more than the 26 bytes IHDR implies/);
    expectImageError(rgbPng(rows().subarray(0, 20)), /ends after 20 of 26 bytes \(truncated\)/);
    // a zlib stream cut inside IDAT
    const z = zlibSync(rows());
    expectImageError(concat(PNG_SIGNATURE, ihdr(4, 2, 8, 2), pngChunk('IDAT', z.subarray(0, z.length - 8)), IEND), /truncated|invalid|unexpected/);
  });

  test('CRCs, chunk order, critical chunks, filters, palette indices, zlib header', () => {
    const good = rgbPng(rows());
    const badCrc = good.slice();
    badCrc[good.length - 12 - 1] ^= 1; // last byte of the IDAT CRC
    expectImageError(badCrc, /CRC mismatch in chunk IDAT/);
    expectImageError(rgbPng(rows(), pngChunk('ABCD', new Uint8Array(3))), /unknown critical chunk ABCD/);
    expectImageError(rgbPng(rows(5)), /row filter type 5/);
    expectImageError(concat(PNG_SIGNATURE, ihdr(4, 2, 8, 3), idatOf(new Uint8Array(10)), IEND), /without a PLTE/);
    const pal = pngChunk('PLTE', Uint8Array.of(1, 2, 3, 4, 5, 6));
    expectImageError(concat(PNG_SIGNATURE, ihdr(2, 1, 8, 3), pal, idatOf(Uint8Array.of(0, 1, 2)), IEND), /palette index 2 with 2 palette entries/);
    expectImageError(concat(PNG_SIGNATURE, ihdr(4, 2, 8, 2), pngChunk('IDAT', Uint8Array.of(0x78, 0x9d, 1, 2)), IEND), /zlib header check bits/);
    expectImageError(concat(PNG_SIGNATURE, ihdr(4, 2, 8, 2), pngChunk('IDAT', Uint8Array.of(0x78, 0xbb, 1, 2, 3, 4)), IEND), /preset dictionary/);
    expectImageError(concat(PNG_SIGNATURE, ihdr(4, 2, 8, 2), IEND), /no image data/);
    expectImageError(concat(PNG_SIGNATURE, ihdr(4, 2, 8, 2), pngChunk('IDAT', Uint8Array.of(0x78, 0xda, 0xff, 0xff, 0xff)), IEND), /corrupt PNG/);
    // the 1 × 2³¹−1 image needs a 2 GB row: refused by the plan, not by an allocation failure
    expectImageError(concat(PNG_SIGNATURE, ihdr(0x7fffffff, 1, 8, 6), IEND), /maxPixels|maxDecodeBytes/, 'E_IMAGE_TOO_LARGE');
    expectImageError(concat(PNG_SIGNATURE, ihdr(40_000_000, 1, 16, 6), IEND), /40000000×1 PNG at full size needs 915\.6 MiB/, 'E_IMAGE_TOO_LARGE');
  });
});

describe('JPEG guards', () => {
  const base = fixture('jpeg/baseline-420.jpg');
  /** The fixture with its SOF0 segment's height/width (and optionally precision / marker) replaced. */
  function withFrame(w: number, h: number, { precision = 8, marker = 0xc0, src = base } = {}): Uint8Array {
    const b = src.slice();
    for (let p = 2; p < b.length;) {
      const m = b[p + 1], len = (b[p + 2] << 8) | b[p + 3];
      if (m >= 0xc0 && m <= 0xc2) {
        b[p + 1] = marker;
        b[p + 4] = precision;
        b.set([h >> 8, h & 255, w >> 8, w & 255], p + 5);
        return b;
      }
      p += 2 + len;
    }
    throw new Error('no SOF');
  }

  test('declared size: over maxPixels from the header; under it, missing data is caught in the first MCU row', () => {
    expectImageError(withFrame(65535, 65535), /65535×65535 = 4294\.8 megapixels/, 'E_IMAGE_TOO_LARGE');
    expectImageError(withFrame(8000, 8000), /entropy-coded data ends before the image does|bad Huffman code/);
    const prog = fixture('jpeg/progressive.jpg');
    expectImageError(withFrame(10000, 10000, { src: prog, marker: 0xc2 }), /entropy-coded data ends|bad Huffman|run past/);
    // without minShortSide a 100 MP progressive file needs its full coefficient planes: over the default budget
    const e = thrown(() => decodeImage(withFrame(10000, 10000, { src: prog, marker: 0xc2 })));
    expect([e.code, e.message.includes('pass minShortSide')]).toEqual(['E_IMAGE_TOO_LARGE', true]);
  });

  test('unsupported kinds say so', () => {
    expectImageError(withFrame(67, 45, { precision: 12 }), /unsupported JPEG image: 12-bit samples/);
    expectImageError(withFrame(67, 45, { marker: 0xc9 }), /unsupported JPEG image: arithmetic-coded frame/);
    expectImageError(withFrame(67, 45, { marker: 0xc3 }), /unsupported JPEG image: lossless frame/);
    expectImageError(withFrame(67, 0), /height defined later by a DNL marker/);
  });

  test('damaged tables and markers', () => {
    const find = (m: number) => { for (let p = 2; ; p += 2 + ((base[p + 2] << 8) | base[p + 3])) if (base[p + 1] === m) return p; };
    // a DHT whose counts claim more codes than fit
    const dht = base.slice();
    dht.set(new Array(16).fill(255), find(0xc4) + 5);
    expectImageError(dht, /Huffman table (has more codes|with \d+ symbols)|DHT segment too short/);
    // a DQT renamed to COM: the quantization table is never defined
    const noDqt = base.slice();
    noDqt[find(0xdb) + 1] = 0xfe;
    expectImageError(noDqt, /quantization table 0, which was never defined/);
    // restart markers expected but missing: the every-MCU file with its RSTn bytes turned into data
    const rst = fixture('jpeg/restart-every-mcu.jpg').slice();
    for (let i = find(0xda); i < rst.length - 2; i++) if (rst[i] === 0xff && rst[i + 1] >= 0xd0 && rst[i + 1] <= 0xd7) rst[i + 1] = 0xd9;
    expectImageError(rst, /restart marker|ends before|Huffman/);
  });
});

describe('every failure is typed', () => {
  const outcome = (bytes: Uint8Array): string => {
    try {
      const d = decodeImage(bytes, { minShortSide: 4, maxPixels: 20e6, maxDecodeBytes: 64 * 2 ** 20 });
      expect(d.data.length).toBe(d.width * d.height * 4);
      return 'ok';
    } catch (e) {
      if (!(e instanceof VitguardError)) throw new Error(`untyped failure: ${(e as Error)?.stack}`);
      expect(['E_IMAGE', 'E_IMAGE_TOO_LARGE']).toContain(e.code);
      return e.code;
    }
  };

  test('every truncation of PNG and JPEG files (baseline, progressive, restarts, interlaced)', () => {
    for (const f of ['png/rgba-16.png', 'png/palette-4-interlaced.png', 'jpeg/baseline-420.jpg', 'jpeg/progressive-14-scans.jpg', 'jpeg/restart-every-row.jpg', 'orient/o6.jpg']) {
      const b = fixture(f);
      const seen = new Map<string, number>();
      for (let n = 0; n < b.length; n += 1 + (n >> 6)) {
        const o = outcome(b.subarray(0, n));
        seen.set(o, (seen.get(o) ?? 0) + 1);
      }
      expect(seen.get('E_IMAGE'), f).toBeGreaterThan(10);
    }
  });

  test('seeded byte mutations of every kind of file', () => {
    const files = ['png/rgb-8.png', 'png/grey-2-interlaced.png', 'png/palette-trns.png', 'png/rgba-16.png', 'jpeg/baseline-420.jpg', 'jpeg/progressive-14-scans.jpg', 'jpeg/progressive-restart.jpg', 'jpeg/ycck.jpg', 'jpeg/grey.jpg', 'orient/o6.jpg'];
    const rand = rng(11);
    const counts: Record<string, number> = {};
    const t = performance.now();
    for (let i = 0; i < 400; i++) {
      const b = fixture(files[i % files.length]).slice();
      const flips = 1 + Math.floor(rand() * 6);
      for (let k = 0; k < flips; k++) {
        const at = Math.floor(rand() * b.length);
        b[at] = rand() < 0.5 ? Math.floor(rand() * 256) : b[at] ^ (1 << Math.floor(rand() * 8));
      }
      const o = outcome(b);
      counts[o] = (counts[o] ?? 0) + 1;
    }
    expect(counts.E_IMAGE).toBeGreaterThan(50);
    expect(performance.now() - t).toBeLessThan(30_000);
  });
});
