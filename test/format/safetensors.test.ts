import { describe, expect, it } from 'vitest';
import { f16ToF32, f32Tensor, f32ToF16, readSafetensors, toFloat32, writeSafetensors, type Tensor } from '../../sdk/format/safetensors.js';
import { VitguardError } from '../../sdk/errors.js';

function sample(): Uint8Array {
  const t = new Map<string, Tensor>([
    ['a', f32Tensor([2, 3], Float32Array.from([1, 2, 3, 4, 5, 6]))],
    ['b', { dtype: 'I8', shape: [5], bytes: Uint8Array.from([1, 255, 3, 4, 128]) }],
  ]);
  return writeSafetensors(t, { arch: 'x' });
}

/** A hand-made file with the given header object and data bytes. */
function handmade(header: object, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function code(fn: () => unknown): string {
  try { fn(); } catch (e) { expect(e).toBeInstanceOf(VitguardError); return (e as VitguardError).code; }
  throw new Error('expected a VitguardError');
}

describe('safetensors', () => {
  it('round-trips tensors and metadata, aligning data to 8 bytes', () => {
    const f = readSafetensors(sample());
    expect(f.metadata).toEqual({ arch: 'x' });
    expect(Array.from(toFloat32(f.tensors.get('a')!))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(f.tensors.get('a')!.shape).toEqual([2, 3]);
    expect(Array.from(new Int8Array(f.tensors.get('b')!.bytes.slice().buffer))).toEqual([1, -1, 3, 4, -128]);
    const bytes = sample();
    const headerLen = new DataView(bytes.buffer).getUint32(0, true);
    expect(headerLen % 8).toBe(0);
  });

  it('converts F16 and BF16 to f32', () => {
    const h = Uint16Array.from([f32ToF16(1.5), f32ToF16(-2), f32ToF16(65504), f32ToF16(1e-7)]);
    const t: Tensor = { dtype: 'F16', shape: [4], bytes: new Uint8Array(h.buffer) };
    const f = toFloat32(t);
    expect(Array.from(f.slice(0, 3))).toEqual([1.5, -2, 65504]);
    expect(f[3]).toBe(2 * 2 ** -24); // 1e-7 rounds to the subnormal f16 2·2⁻²⁴
    expect(f16ToF32(0x7c00)).toBe(Infinity);
    const bf = Uint16Array.from([0x3fc0]); // 1.5 in bf16
    expect(toFloat32({ dtype: 'BF16', shape: [1], bytes: new Uint8Array(bf.buffer) })[0]).toBe(1.5);
  });

  it('rejects a file shorter than the length prefix', () => {
    expect(code(() => readSafetensors(new Uint8Array(5)))).toBe('E_FILE_TRUNCATED');
  });

  it('rejects a header that overruns the file', () => {
    const f = sample();
    expect(code(() => readSafetensors(f.subarray(0, 20)))).toBe('E_FILE_TRUNCATED');
  });

  it('rejects data that is truncated', () => {
    const f = sample();
    expect(code(() => readSafetensors(f.subarray(0, f.length - 3)))).toBe('E_FILE_TRUNCATED');
  });

  it('rejects overlapping offsets', () => {
    const f = handmade({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12));
    expect(code(() => readSafetensors(f))).toBe('E_FILE_HEADER');
  });

  it('rejects offsets that disagree with dtype × shape', () => {
    const f = handmade({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(12));
    expect(code(() => readSafetensors(f))).toBe('E_FILE_HEADER');
  });

  it('rejects unknown dtypes, bad JSON and absurd header lengths', () => {
    expect(code(() => readSafetensors(handmade({ a: { dtype: 'Q9', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1))))).toBe('E_FILE_HEADER');
    const bad = handmade({}, new Uint8Array(0));
    bad[8] = 0x7b; bad[9] = 0x7b; // "{{"
    expect(code(() => readSafetensors(bad))).toBe('E_FILE_HEADER');
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setUint32(4, 1, true); // 2^32 bytes of header
    expect(code(() => readSafetensors(huge))).toBe('E_FILE_HEADER');
  });
});
