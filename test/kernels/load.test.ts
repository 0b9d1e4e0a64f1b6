// The loading kernels (assembly/load.ts) against their scalar `_ref` twins and against JavaScript's own reading of
// the same bits (f16ToF32, a bf16 shift): every half-precision bit pattern, NaN/±Inf found at every position of every
// tail size, and the in-place conversion (16-bit source in the upper half of the f32 destination) the engine uses.

import { beforeAll, describe, expect, it } from 'vitest';
import type { WasmInstance } from '../../sdk/engine/wasm.js';
import { f16ToF32 } from '../../sdk/format/safetensors.js';
import { mulberry32 } from '../../sdk/model/random.js';
import { kernelInstance, SIZES } from './helpers.js';

interface LoadKernels {
  find_nonfinite_f32(src: number, n: number): number;
  find_nonfinite_f32_ref(src: number, n: number): number;
  convert_f16_f32(dst: number, src: number, n: number): number;
  convert_f16_f32_ref(dst: number, src: number, n: number): number;
  convert_bf16_f32(dst: number, src: number, n: number): number;
  convert_bf16_f32_ref(dst: number, src: number, n: number): number;
}

let w: WasmInstance;
let k: LoadKernels;
beforeAll(async () => {
  w = await kernelInstance('simd');
  k = w.kernels as unknown as LoadKernels;
});

/** Bits of f32 values as read back from memory (NaN payloads compared as bits). */
const bitsOf = (a: Float32Array) => Array.from(new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength)));

function write(bytes: Uint8Array): number {
  const p = w.heap.alloc(bytes.byteLength + 64);
  w.heap.u8(p, bytes.byteLength).set(bytes);
  return p;
}

const SPECIALS = [NaN, Infinity, -Infinity];
const LENGTHS = [...SIZES, 8, 9, 64, 1000];

describe('find_nonfinite_f32', () => {
  it('-1 on finite data (zeros, subnormals, the largest finite values); the first NaN/±Inf at every position', () => {
    const mark = w.heap.mark();
    for (const n of LENGTHS) {
      const r = mulberry32(n);
      const a = Float32Array.from({ length: n }, (_, i) => [0, -0, 1e-45, -3.4028234e38, 3.4028234e38][i % 5] + (i % 7 === 0 ? r() : 0));
      const p = write(new Uint8Array(a.buffer));
      expect(k.find_nonfinite_f32(p, n)).toBe(-1);
      expect(k.find_nonfinite_f32_ref(p, n)).toBe(-1);
      for (let at = 0; at < n; at += Math.max(1, Math.floor(n / 13))) {
        for (const v of SPECIALS) {
          const b = a.slice();
          b[at] = v;
          if (at + 3 < n) b[at + 3] = -v; // a later one never wins
          const q = write(new Uint8Array(b.buffer));
          expect(k.find_nonfinite_f32(q, n), `n=${n} at=${at} ${v}`).toBe(at);
          expect(k.find_nonfinite_f32_ref(q, n)).toBe(at);
        }
      }
      w.heap.release(mark);
    }
  });
});

describe('convert_f16_f32', () => {
  it('all 65,536 half bit patterns equal f16ToF32 (NaN stays NaN, payload kept) and the _ref twin, bit for bit', () => {
    const mark = w.heap.mark();
    const n = 65536;
    const h = Uint16Array.from({ length: n }, (_, i) => i);
    const src = write(new Uint8Array(h.buffer));
    const dst = w.heap.alloc(4 * n), ref = w.heap.alloc(4 * n);
    const bad = k.convert_f16_f32(dst, src, n);
    expect(bad).toBe(0x7c00); // +Inf is the first pattern with an all-ones exponent
    expect(k.convert_f16_f32_ref(ref, src, n)).toBe(0x7c00);
    const got = w.heap.readF32(dst, n), want = w.heap.readF32(ref, n);
    expect(bitsOf(got)).toEqual(bitsOf(want));
    const gotBits = bitsOf(got);
    const wrong: string[] = [];
    for (let i = 0; i < n; i++) {
      const js = f16ToF32(i);
      const ok = Number.isNaN(js) ? Number.isNaN(got[i]) && (gotBits[i] & 0x1fff) === 0 : Object.is(got[i], Math.fround(js));
      if (!ok) wrong.push(`0x${i.toString(16)}: ${got[i]} vs ${js}`);
    }
    expect(wrong).toEqual([]);
    w.heap.release(mark);
  });

  it('in place (source in the upper half of the destination) at every tail size, with the first NaN/±Inf found', () => {
    const mark = w.heap.mark();
    for (const n of LENGTHS) {
      const r = mulberry32(n + 1);
      // finite halves only: exponent 0..30
      const h = Uint16Array.from({ length: n }, () => (Math.floor(r() * 0x7c00) | (r() < 0.5 ? 0x8000 : 0)));
      const want = Float32Array.from(h, (x) => f16ToF32(x));
      for (const at of [-1, 0, Math.floor(n / 2), n - 1]) {
        const hh = h.slice();
        if (at >= 0) hh[at] = 0x7c00 | (at % 2 ? 0x8000 : 0) | (at % 3 ? 0 : 0x0200); // ±Inf or NaN
        const dst = w.heap.alloc(4 * n + 64);
        w.heap.u8(dst + 2 * n, 2 * n).set(new Uint8Array(hh.buffer));
        expect(k.convert_f16_f32(dst, dst + 2 * n, n), `n=${n} at=${at}`).toBe(at);
        const got = w.heap.readF32(dst, n);
        for (let i = 0; i < n; i++) {
          if (i === at) expect(Number.isFinite(got[i])).toBe(false);
          else expect(Object.is(got[i], want[i]), `n=${n} i=${i}`).toBe(true);
        }
      }
      w.heap.release(mark);
    }
  });
});

describe('convert_bf16_f32', () => {
  it('every tail size, in place and not: bits << 16, the first NaN/±Inf found, equal to the _ref twin', () => {
    const mark = w.heap.mark();
    for (const n of LENGTHS) {
      const r = mulberry32(n + 2);
      const h = Uint16Array.from({ length: n }, () => Math.floor(r() * 65536) & ~(r() < 0.97 ? 0x0080 : 0)); // mostly finite
      let first = -1;
      for (let i = 0; i < n && first < 0; i++) if ((h[i] & 0x7f80) === 0x7f80) first = i;
      const want = Array.from(h, (x) => (x << 16) >>> 0);
      const src = write(new Uint8Array(h.buffer));
      const dst = w.heap.alloc(4 * n + 64), ref = w.heap.alloc(4 * n + 64);
      expect(k.convert_bf16_f32(dst, src, n), `n=${n}`).toBe(first);
      expect(k.convert_bf16_f32_ref(ref, src, n)).toBe(first);
      expect(bitsOf(w.heap.readF32(dst, n))).toEqual(want);
      expect(bitsOf(w.heap.readF32(ref, n))).toEqual(want);
      const inPlace = w.heap.alloc(4 * n + 64);
      w.heap.u8(inPlace + 2 * n, 2 * n).set(new Uint8Array(h.buffer));
      expect(k.convert_bf16_f32(inPlace, inPlace + 2 * n, n)).toBe(first);
      expect(bitsOf(w.heap.readF32(inPlace, n))).toEqual(want);
      w.heap.release(mark);
    }
  });

  it('a NaN/Inf placed in a SIMD block is found at its own index, not the block start', () => {
    const mark = w.heap.mark();
    const n = 40;
    for (let at = 0; at < n; at++) {
      const h = new Uint16Array(n).fill(0x3f80); // 1.0
      h[at] = 0xff80; // -Inf
      const src = write(new Uint8Array(h.buffer));
      const dst = w.heap.alloc(4 * n);
      expect(k.convert_bf16_f32(dst, src, n)).toBe(at);
      expect(w.heap.readF32(dst, n)[at]).toBe(-Infinity);
    }
    w.heap.release(mark);
  });
});

describe('packing at load: gemm_f32_pack and gemm_q8_pack (v128 paths) write the same bytes as their _ref twins', () => {
  interface PackKernels {
    gemm_f32_packed_bytes(N: number, K: number): number;
    gemm_f32_pack(dst: number, w: number, bias: number, N: number, K: number): void;
    gemm_f32_pack_ref(dst: number, w: number, bias: number, N: number, K: number): void;
    gemm_q8_packed_bytes(N: number, K: number): number;
    gemm_q8_pack(wq: number, sw: number, bias: number, N: number, K: number, dst: number): void;
    gemm_q8_pack_ref(wq: number, sw: number, bias: number, N: number, K: number, dst: number): void;
  }
  const shapes: [number, number][] = [];
  for (const N of [1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33]) for (const K of [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 192]) shapes.push([N, K]);
  shapes.push([384, 384], [1152, 384], [1000, 768]);

  it('every N and K tail, with and without a bias; real layer shapes', () => {
    const p = w.kernels as unknown as PackKernels;
    const mark = w.heap.mark();
    for (const [N, K] of shapes) {
      const r = mulberry32(N * 1009 + K);
      const wf = w.heap.allocF32(Float32Array.from({ length: N * K }, () => r() * 2 - 1));
      const i8 = Int8Array.from({ length: N * K }, () => Math.floor(r() * 255) - 127);
      const wq = write(new Uint8Array(i8.buffer));
      const sw = w.heap.allocF32(Float32Array.from({ length: N }, () => r()));
      const b = w.heap.allocF32(Float32Array.from({ length: N }, () => r() - 0.5));
      for (const bias of [b, 0]) {
        const fb = p.gemm_f32_packed_bytes(N, K);
        const f1 = w.heap.alloc(fb), f2 = w.heap.alloc(fb);
        w.heap.u8(f1, fb).fill(0xa5); w.heap.u8(f2, fb).fill(0x5a); // every byte must be written by both
        p.gemm_f32_pack(f1, wf, bias, N, K);
        p.gemm_f32_pack_ref(f2, wf, bias, N, K);
        expect(Buffer.compare(w.heap.u8(f1, fb), w.heap.u8(f2, fb)), `gemm_f32_pack N=${N} K=${K} bias=${bias !== 0}`).toBe(0);
        const qb = p.gemm_q8_packed_bytes(N, K);
        const q1 = w.heap.alloc(qb), q2 = w.heap.alloc(qb);
        w.heap.u8(q1, qb).fill(0xa5); w.heap.u8(q2, qb).fill(0x5a);
        p.gemm_q8_pack(wq, sw, bias, N, K, q1);
        p.gemm_q8_pack_ref(wq, sw, bias, N, K, q2);
        expect(Buffer.compare(w.heap.u8(q1, qb), w.heap.u8(q2, qb)), `gemm_q8_pack N=${N} K=${K} bias=${bias !== 0}`).toBe(0);
      }
      w.heap.release(mark);
    }
  });
});

describe('packing at load: gemm_q4_pack (every layout) and gemm_q4i16_pack write the same bytes as their _ref twins', () => {
  interface Q4PackKernels {
    gemm_q4_packed_bytes(N: number, K: number, G: number): number;
    gemm_q4_pack(wq: number, sw: number, bias: number, N: number, K: number, G: number, layout: number, dst: number): void;
    gemm_q4_pack_ref(wq: number, sw: number, bias: number, N: number, K: number, G: number, layout: number, dst: number): void;
    gemm_q4i16_packed_bytes(N: number, K: number, G: number): number;
    gemm_q4i16_pack(wq: number, sw: number, bias: number, N: number, K: number, G: number, dst: number): void;
    gemm_q4i16_pack_ref(wq: number, sw: number, bias: number, N: number, K: number, G: number, dst: number): void;
    Q4_LAYOUT_C4: WebAssembly.Global; Q4_LAYOUT_S8: WebAssembly.Global; Q4_LAYOUT_F: WebAssembly.Global;
  }
  const shapes: [number, number, number][] = [];
  for (const N of [1, 3, 7, 8, 9, 15, 16, 17, 33]) for (const [K, G] of [[32, 32], [64, 32], [96, 32], [128, 64], [256, 128], [384, 32]]) shapes.push([N, K, G]);
  shapes.push([1152, 384, 32], [384, 1536, 32], [1000, 768, 64]);

  it('every N tail, group sizes 32/64/128, with and without a bias; real layer shapes', () => {
    const p = w.kernels as unknown as Q4PackKernels;
    const layouts = [p.Q4_LAYOUT_C4, p.Q4_LAYOUT_S8, p.Q4_LAYOUT_F].map((g) => g.value as number);
    const mark = w.heap.mark();
    // every byte must be written by both (different fills), except past the 4-column panels of Q4_LAYOUT_F, which
    // need less than gemm_q4_packed_bytes (sized for the 8-column layouts)
    const same = (what: string, bytes: number, pack: (dst: number) => void, ref: (dst: number) => void, fill = 0x5a) => {
      const a = w.heap.alloc(bytes), b = w.heap.alloc(bytes);
      w.heap.u8(a, bytes).fill(0xa5); w.heap.u8(b, bytes).fill(fill);
      pack(a); ref(b);
      expect(Buffer.compare(w.heap.u8(a, bytes), w.heap.u8(b, bytes)), what).toBe(0);
    };
    for (const [N, K, G] of shapes) {
      const r = mulberry32(N * 7 + K * 13 + G);
      const wq = write(Uint8Array.from({ length: (N * K) / 2 }, () => Math.floor(r() * 256)));
      const sw = w.heap.allocF32(Float32Array.from({ length: (N * K) / G }, () => r()));
      const b = w.heap.allocF32(Float32Array.from({ length: N }, () => r() - 0.5));
      for (const bias of [b, 0]) {
        for (const layout of layouts) {
          same(`gemm_q4_pack layout ${layout} N=${N} K=${K} G=${G} bias=${bias !== 0}`, p.gemm_q4_packed_bytes(N, K, G),
            (d) => p.gemm_q4_pack(wq, sw, bias, N, K, G, layout, d), (d) => p.gemm_q4_pack_ref(wq, sw, bias, N, K, G, layout, d),
            layout === layouts[2] ? 0xa5 : 0x5a);
        }
        same(`gemm_q4i16_pack N=${N} K=${K} G=${G} bias=${bias !== 0}`, p.gemm_q4i16_packed_bytes(N, K, G),
          (d) => p.gemm_q4i16_pack(wq, sw, bias, N, K, G, d), (d) => p.gemm_q4i16_pack_ref(wq, sw, bias, N, K, G, d));
      }
      w.heap.release(mark);
    }
  });
});
