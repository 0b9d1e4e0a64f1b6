// The f32 attention's per-head pieces (assembly/attention.ts) as the engine calls them: attention_scores,
// attention_softmax, attention_pv, attention_probs give attention()'s bits, and attention_softmax + attention_probs
// give softmax_rows' bits (the same e and 1/Σe; the normalisation moved into P·v). attention() itself is checked
// against the f64 attention_ref in kernels.test.ts.

import { beforeAll, describe, expect, it } from 'vitest';
import type { WasmInstance } from '../../sdk/engine/wasm.js';
import { kernelInstance, randomF32 } from './helpers.js';

type K = Record<string, (...a: number[]) => number>;
let w: WasmInstance;
let k: K;
beforeAll(async () => {
  w = await kernelInstance('simd');
  k = w.kernels as unknown as K;
});

describe('f32 attention pieces', () => {
  it('per-head calls = attention(), with and without probabilities; softmax + probs = softmax_rows', () => {
    for (const [T, D, heads] of [[197, 192, 3], [50, 96, 3], [5, 48, 4], [17, 12, 4], [33, 35, 5]]) {
      const { heap } = w;
      const mark = heap.mark();
      const Q = heap.allocF32(randomF32(T * 3 * D, T + D, -2, 2));
      const sb = k.attention_scratch_bytes(T, D, heads);
      const S1 = heap.alloc(sb), S2 = heap.alloc(sb);
      const O1 = heap.alloc(T * D * 4), O2 = heap.alloc(T * D * 4), O3 = heap.alloc(T * D * 4);
      const P1 = heap.alloc(heads * T * T * 4), P2 = heap.alloc(heads * T * T * 4);
      k.attention(O1, Q, T, D, heads, S1, P1);
      k.attention(O3, Q, T, D, heads, S1, 0);
      const scale = Math.fround(1 / Math.fround(Math.sqrt(D / heads))); // attention()'s f32 1/√hd, as the engine passes it
      const pk = S2 + T * T * 4;
      for (let h = 0; h < heads; h++) {
        const S = P2 + h * T * T * 4;
        k.attention_scores(S, Q, pk, T, D, heads, h);
        const R = heap.allocF32(heap.readF32(S, T * T));
        k.softmax_rows(R, T, T, scale);
        k.attention_softmax(S, pk, T, scale);
        k.attention_pv(O2, S, Q, pk, T, D, heads, h);
        k.attention_probs(S, pk, T);
        expect(Buffer.from(heap.u8(S, T * T * 4)).equals(Buffer.from(heap.u8(R, T * T * 4))), `softmax T=${T} h=${h}`).toBe(true);
      }
      const bytes = (p: number, n: number) => Buffer.from(heap.u8(p, n * 4));
      expect(bytes(O2, T * D).equals(bytes(O1, T * D)), `out T=${T} D=${D}`).toBe(true);
      expect(bytes(O3, T * D).equals(bytes(O1, T * D)), `out without probabilities T=${T} D=${D}`).toBe(true);
      expect(bytes(P2, heads * T * T).equals(bytes(P1, heads * T * T)), `probabilities T=${T} D=${D}`).toBe(true);
      heap.release(mark);
    }
  });
});
