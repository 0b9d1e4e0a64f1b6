// safetensors, read and written here (no dependency): u64 little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}, then the raw data,
// row-major little-endian, offsets relative to the end of the header.

import { VitguardError } from '../errors.js';

export type DType = 'F32' | 'F16' | 'I8' | 'U8' | 'I32' | 'BF16' | 'F64' | 'I64' | 'I16' | 'U16' | 'BOOL';

export const DTYPE_BYTES: Record<DType, number> = {
  F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, I16: 2, U16: 2, I8: 1, U8: 1, BOOL: 1,
};

export interface Tensor {
  dtype: DType;
  shape: number[];
  /** The raw bytes (a view into the file's buffer when read). */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/** Largest JSON header read (bytes): the format's own limit (the reference implementation's MAX_HEADER_SIZE). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;
/**
 * Most JSON structure characters ({ [ , :) a header may hold before it is parsed: each tensor entry needs about 12 and
 * metadata strings only a few, so 1,000,000 admits ~80,000 tensors (a ViT-g has ~600) while a header made of millions
 * of tiny entries or one shape of millions of numbers — 100 MB of it costs ~30 s and 1.5 GB in JSON.parse and the
 * checks after — is refused in one linear scan, before any object is built.
 */
export const MAX_HEADER_TOKENS = 1_000_000;
const MAX_HEADER = MAX_HEADER_BYTES;

function bad(message: string): never {
  throw new VitguardError('E_FILE_HEADER', message);
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Parse a safetensors file. Every offset is checked: no overlap, no gap past the end, sizes match shapes. */
export function readSafetensors(input: Uint8Array | ArrayBuffer): SafetensorsFile {
  const buf = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (buf.byteLength < 8) {
    throw new VitguardError('E_FILE_TRUNCATED', `safetensors: file is ${buf.byteLength} bytes, shorter than the 8-byte header length`);
  }
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  if (hi !== 0 || lo > MAX_HEADER) bad(`safetensors: header length ${hi * 2 ** 32 + lo} is not plausible (limit ${MAX_HEADER})`);
  const headerLen = lo;
  if (8 + headerLen > buf.byteLength) {
    throw new VitguardError('E_FILE_TRUNCATED', `safetensors: header claims ${headerLen} bytes but the file has only ${buf.byteLength - 8} after the length`);
  }
  let tokens = 0;
  for (let i = 8; i < 8 + headerLen; i++) {
    const b = buf[i];
    if (b === 0x7b || b === 0x5b || b === 0x2c || b === 0x3a) tokens++; // { [ , :
  }
  if (tokens > MAX_HEADER_TOKENS) bad(`safetensors: header has ${tokens} JSON structure characters, over the limit of ${MAX_HEADER_TOKENS} (far more tensors or shape entries than any model needs)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + headerLen)));
  } catch (e) {
    bad(`safetensors: header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) bad('safetensors: header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = buf.byteLength - dataStart;
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  const spans: Array<[number, number, string]> = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null) bad('safetensors: __metadata__ is not an object');
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') bad(`safetensors: __metadata__.${k} is not a string`);
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) bad(`safetensors: entry ${name} is not an object`);
    if (typeof e.dtype !== 'string' || !(e.dtype in DTYPE_BYTES)) bad(`safetensors: tensor ${name} has unknown dtype ${String(e.dtype)}`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) bad(`safetensors: tensor ${name} has an invalid shape ${JSON.stringify(e.shape)}`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0) || off[0] > off[1]) {
      bad(`safetensors: tensor ${name} has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    const dtype = e.dtype as DType;
    const shape = e.shape as number[];
    const want = numel(shape) * DTYPE_BYTES[dtype];
    if (end - begin !== want) bad(`safetensors: tensor ${name} ${dtype}${JSON.stringify(shape)} needs ${want} bytes but its offsets span ${end - begin}`);
    if (end > dataLen) {
      throw new VitguardError('E_FILE_TRUNCATED', `safetensors: tensor ${name} ends at byte ${end} of the data but the file has only ${dataLen} data bytes (truncated?)`);
    }
    spans.push([begin, end, name]);
    tensors.set(name, { dtype, shape, bytes: buf.subarray(dataStart + begin, dataStart + end) });
  }
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) bad(`safetensors: tensors ${spans[i - 1][2]} and ${spans[i][2]} overlap`);
  }
  return { tensors, metadata };
}

/** Write a safetensors file; tensors are laid out in insertion order, each aligned to 8 bytes. */
export function writeSafetensors(tensors: Map<string, Tensor> | Iterable<[string, Tensor]>, metadata: Record<string, string> = {}): Uint8Array {
  const entries = [...(tensors instanceof Map ? tensors.entries() : tensors)];
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    const want = numel(t.shape) * DTYPE_BYTES[t.dtype];
    if (t.bytes.byteLength !== want) throw new VitguardError('E_TENSOR_SHAPE', `writeSafetensors: tensor ${name} ${t.dtype}${JSON.stringify(t.shape)} needs ${want} bytes, got ${t.bytes.byteLength}`);
    offset = (offset + 7) & ~7;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + want] };
    offset += want;
  }
  // Offsets are relative to the data start; padding between tensors is allowed by the format (not covered
  // by any offset). The header itself is padded with spaces to 8 bytes, as the reference writer does.
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = (json.byteLength + 7) & ~7;
  if (padded !== json.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.byteLength + offset);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, json.byteLength, true);
  dv.setUint32(4, 0, true);
  out.set(json, 8);
  const base = 8 + json.byteLength;
  for (const [name, t] of entries) {
    const [b] = (header[name] as { data_offsets: [number, number] }).data_offsets;
    out.set(t.bytes, base + b);
  }
  return out;
}

// --- typed views -------------------------------------------------------------------------------

/** A Float32Array copy (or aligned view) of an F32/F16/BF16 tensor. */
export function toFloat32(t: Tensor): Float32Array {
  const n = numel(t.shape);
  if (t.dtype === 'F32') {
    if (t.bytes.byteOffset % 4 === 0) return new Float32Array(t.bytes.buffer, t.bytes.byteOffset, n);
    return new Float32Array(t.bytes.slice().buffer, 0, n);
  }
  const out = new Float32Array(n);
  const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  if (t.dtype === 'F16') for (let i = 0; i < n; i++) out[i] = f16ToF32(dv.getUint16(2 * i, true));
  else if (t.dtype === 'BF16') {
    const u = new Uint32Array(1);
    const f = new Float32Array(u.buffer);
    for (let i = 0; i < n; i++) { u[0] = dv.getUint16(2 * i, true) << 16; out[i] = f[0]; }
  } else if (t.dtype === 'F64') for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
  else throw new VitguardError('E_TENSOR_SHAPE', `expected a floating-point tensor, got ${t.dtype}`);
  return out;
}

export function f32Tensor(shape: number[], data: Float32Array): Tensor {
  return { dtype: 'F32', shape, bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);
/** Round-to-nearest-even f32 → f16 bits. */
export function f32ToF16(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let r = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = mant >> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) {
    r++;
    if (r === 0x400) { r = 0; e++; if (e >= 31) return sign | 0x7c00; }
  }
  return sign | (e << 10) | r;
}
