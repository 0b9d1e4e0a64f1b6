// The streaming zlib inflater (sdk/image/inflate.ts) against fflate's: stored, fixed and dynamic blocks from every
// compression level, data that compresses 1000:1 and data that does not compress at all, split across many ranges
// (IDAT chunks) at awkward places; damaged streams end in E_IMAGE.
import { deflateSync, zlibSync } from 'fflate';
import { describe, expect, test } from 'vitest';
import { inflateZlib } from '../../sdk/image/inflate.js';
import { rng, thrown } from './helpers.js';

/** Inflate z (split into ranges of the given sizes, each embedded between junk bytes) and collect the output. */
function inflate(z: Uint8Array, splits: number[] = [], limit = 1 << 30): Uint8Array {
  const parts: number[] = [];
  const buf = new Uint8Array(z.length + 4 * (splits.length + 1) + 4);
  let o = 2, at = 0;
  for (const n of [...splits, z.length]) {
    const take = Math.min(n, z.length - at);
    buf.set(z.subarray(at, at + take), o);
    parts.push(o, o + take);
    at += take;
    o += take + 4; // junk between ranges (zeros) that must be skipped
    if (at >= z.length) break;
  }
  let out = new Uint8Array(1 << 16), n = 0;
  const total = inflateZlib(buf, parts, limit, (b, s, e) => {
    if (n + e - s > out.length) { const grown = new Uint8Array(2 * (n + e - s)); grown.set(out.subarray(0, n)); out = grown; }
    out.set(b.subarray(s, e), n);
    n += e - s;
  });
  expect(total).toBe(n);
  return out.subarray(0, n);
}

function sample(kind: string, n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const d = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (kind === 'random') d[i] = Math.floor(r() * 256);
    else if (kind === 'zeros') d[i] = 0;
    else if (kind === 'text') d[i] = 97 + Math.floor(r() * 6) * (i % 7 === 0 ? 1 : 0);
    else d[i] = (Math.floor(i / 97) * 13 + Math.floor(r() * 4)) & 255; // smooth, image-like
  }
  return d;
}

describe('inflateZlib', () => {
  test('equals fflate for every level and kind of data, split anywhere', () => {
    for (const kind of ['random', 'zeros', 'text', 'smooth']) {
      for (const n of [0, 1, 100, 40_000, 150_000]) {
        const data = sample(kind, n, n + kind.length);
        for (const level of [0, 1, 6, 9] as const) {
          const z = zlibSync(data, { level });
          for (const splits of [[], [1], [2, 3, 1], [777, 1, 5000]]) {
            const got = inflate(z, splits);
            expect(got.length, `${kind} ${n} L${level}`).toBe(n);
            expect(Buffer.from(got).equals(Buffer.from(data)), `${kind} ${n} L${level} ${splits}`).toBe(true);
          }
        }
      }
    }
  });

  test('fixed-Huffman blocks (short inputs) and the longest matches', () => {
    for (const s of ['a', 'abcabcabcabcabcabcabc', 'hello hello hello world']) {
      const data = new TextEncoder().encode(s.repeat(3));
      expect(new TextDecoder().decode(inflate(zlibSync(data, { level: 9 })))).toBe(s.repeat(3));
    }
    const runs = new Uint8Array(1_000_000).fill(7); // 258-byte matches at distance 1, 1000:1
    const z = zlibSync(runs, { level: 9 });
    expect(z.length).toBeLessThan(2000);
    expect(inflate(z).every((v) => v === 7)).toBe(true);
  });

  test('limit: a bomb stops within 16 KiB of the limit', () => {
    const z = zlibSync(new Uint8Array(10_000_000), { level: 9 });
    let seen = 0;
    const e = thrown(() => inflateZlib(z, [0, z.length], 100_000, (_b, s, en) => { seen += en - s; }));
    expect([e.code, /inflates to more than the 100000 bytes/.test(e.message)]).toEqual(['E_IMAGE', true]);
    expect(seen).toBeLessThanOrEqual(100_000 + 16_384 + 258);
  });

  test('damaged streams are E_IMAGE: header, checksum, truncation, bad codes, distances', () => {
    const data = sample('smooth', 50_000, 3);
    const z = zlibSync(data, { level: 6 });
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array(0), /empty/],
      [Uint8Array.of(0x79, 0x9c, 0), /compression method 9/],
      [Uint8Array.of(0x78, 0x9d, 0), /check bits/],
      [Uint8Array.of(0x78, 0xbb, 0, 0, 0, 0), /preset dictionary/],
      [Uint8Array.from([...z.subarray(0, z.length - 1), z[z.length - 1] ^ 1]), /Adler-32/],
      [z.subarray(0, z.length - 4), /truncated|checksum/],
      [z.subarray(0, z.length >> 1), /truncated/],
      [Uint8Array.of(0x78, 0x9c, 0b111), /block type 3/],
      // a stored block whose NLEN is not the complement of LEN
      [Uint8Array.of(0x78, 0x01, 0x01, 0x05, 0x00, 0x00, 0x00, 1, 2, 3, 4, 5), /length check/],
      // fixed Huffman: literal 'a' then a match at distance 2 with only 1 byte written
      [Uint8Array.of(0x78, 0x01, ...fixedBlock()), /distance reaches back/],
    ];
    for (const [b, re] of cases) {
      const e = thrown(() => inflateZlib(b, [0, b.length], 1 << 30, () => {}));
      expect(e.code).toBe('E_IMAGE');
      expect(e.message, String(re)).toMatch(re);
    }
    // random damage anywhere: output or E_IMAGE, never anything else
    const r = rng(5);
    for (let i = 0; i < 150; i++) {
      const b = z.slice();
      for (let k = 0; k < 3; k++) b[Math.floor(r() * b.length)] ^= 1 << Math.floor(r() * 8);
      try {
        inflateZlib(b, [0, b.length], 200_000, () => {});
      } catch (e) {
        expect((e as { code?: string }).code).toBe('E_IMAGE');
      }
    }
  });

  test('raw deflate from a different encoder (fflate deflateSync wrapped by hand) decodes too', () => {
    const data = sample('text', 20_000, 9);
    const raw = deflateSync(data, { level: 4 });
    let a = 1, b = 0;
    for (const v of data) { a = (a + v) % 65521; b = (b + a) % 65521; }
    const adler = ((b << 16) | a) >>> 0;
    const z = Uint8Array.from([0x78, 0x01, ...raw, adler >>> 24, (adler >>> 16) & 255, (adler >>> 8) & 255, adler & 255]);
    expect(Buffer.from(inflate(z)).equals(Buffer.from(data))).toBe(true);
  });
});

/** A final fixed-Huffman block: literal 'a' (0x61), then length 3 at distance 2, then end of block (bits LSB first). */
function fixedBlock(): number[] {
  const bits: number[] = [];
  const put = (v: number, n: number) => { for (let i = 0; i < n; i++) bits.push((v >> i) & 1); };
  const code = (c: number, n: number) => { for (let i = n - 1; i >= 0; i--) bits.push((c >> i) & 1); }; // Huffman codes MSB first
  put(1, 1); // BFINAL
  put(1, 2); // fixed
  code(0x30 + 0x61, 8); // literal 0x61: codes 0x30 + lit for 0..143
  code(1, 7); // length symbol 257 (length 3): 7-bit code 0000001
  code(1, 5); // distance symbol 1 (distance 2)
  code(0, 7); // end of block (256)
  const out: number[] = [];
  for (let i = 0; i < bits.length; i += 8) out.push(bits.slice(i, i + 8).reduce((s, b, j) => s | (b << j), 0));
  return [...out, 0, 0, 0, 0];
}
