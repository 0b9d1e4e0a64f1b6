// Shared by the image tests: fixture paths and pixel comparisons.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { VitguardError } from '../../sdk/errors.js';
import { legacyDecodePng } from './legacy-decode.js';
import { pngChunk } from '../../sdk/image/encode.js';

/** One PNG chunk: length (may lie), type, data, CRC-32 of type + data — the SDK's encoder's. */
export { pngChunk };

export const IMAGES = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/images');
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export const fixture = (rel: string): Uint8Array => new Uint8Array(readFileSync(join(IMAGES, rel)));

/** A reference picture (PNG, any colour type) as RGBA through fast-png. */
export function reference(rel: string): { data: Uint8Array; width: number; height: number } {
  return legacyDecodePng(fixture(rel));
}

/** Largest and mean absolute difference over the R, G, B channels of two RGBA buffers of one size. */
export function rgbDiff(a: Uint8Array, b: Uint8Array): { max: number; mean: number } {
  expect(a.length).toBe(b.length);
  let max = 0, sum = 0, n = 0;
  for (let i = 0; i < a.length; i++) {
    if ((i & 3) === 3) continue;
    const d = Math.abs(a[i] - b[i]);
    if (d > max) max = d;
    sum += d;
    n++;
  }
  return { max, mean: sum / n };
}

/** The VitguardError fn throws (fails the test if it throws anything else or nothing). */
export function thrown(fn: () => unknown): VitguardError {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof VitguardError)) throw new Error(`expected a VitguardError, got ${(e as Error)?.name}: ${(e as Error)?.message}`, { cause: e });
    return e;
  }
  throw new Error('expected a VitguardError, nothing was thrown');
}

/** Seeded PRNG for mutation cases: the project's mulberry32. */
export { mulberry32 as rng } from '../../sdk/data/random.js';

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** An IHDR chunk. */
export function ihdr(w: number, h: number, depth: number, colorType: number, interlace = 0): Uint8Array {
  const d = new Uint8Array(13);
  const v = new DataView(d.buffer);
  v.setUint32(0, w);
  v.setUint32(4, h);
  d.set([depth, colorType, 0, 0, interlace], 8);
  return pngChunk('IHDR', d);
}

export const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
