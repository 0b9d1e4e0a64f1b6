// Mutations of a safetensors model file. Most rewrite the JSON header as a structure (so they reach the checks behind
// the JSON parser): a tensor's data_offsets, dtype, shape or name; the __metadata__ fields (config, scheme, labels,
// preprocessing, the fitted OOD detector, format, arch) as JSON trees; the others work on raw bytes: the 8-byte header
// length, truncation, byte flips in the header or the weights, weights set to NaN / Inf / huge values, splices.
// Every mutation returns a short description, kept with a failure so it can be read without a hex dump.

import type { Rng } from './rng.js';
import { INTERESTING_NUMBERS } from './rng.js';

interface Parsed {
  header: Record<string, unknown>;
  data: Uint8Array;
}

function parse(bytes: Uint8Array): Parsed | null {
  if (bytes.length < 8) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = dv.getUint32(0, true);
  if (dv.getUint32(4, true) !== 0 || 8 + n > bytes.length) return null;
  try {
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    if (typeof header !== 'object' || header === null || Array.isArray(header)) return null;
    return { header, data: bytes.subarray(8 + n) };
  } catch {
    return null;
  }
}

function assemble(header: unknown, data: Uint8Array, rawJson?: string): Uint8Array {
  const json = new TextEncoder().encode(rawJson ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const tensorNames = (h: Record<string, unknown>) => Object.keys(h).filter((k) => k !== '__metadata__');

const DTYPES = ['F32', 'F16', 'BF16', 'I8', 'U8', 'I16', 'U16', 'I32', 'I64', 'F64', 'BOOL', 'F8_E4M3', 'f32', '', 'F', 'F32 '];

/** A value of another kind or an extreme of the same kind, for any JSON position. */
function hostileValue(rng: Rng, old: unknown): unknown {
  switch (rng.int(9)) {
    case 0: return rng.pick(INTERESTING_NUMBERS) * (rng.chance(0.2) ? -1 : 1);
    case 1: return null;
    case 2: return rng.pick(['', 'x', 'NaN', 'Infinity', '1e999', '__proto__', 'constructor', '\u0000', 'é'.repeat(rng.range(1, 40))]);
    case 3: return rng.chance(0.5);
    case 4: return [];
    case 5: return {};
    case 6: return typeof old === 'number' ? (rng.chance(0.5) ? old + rng.pick([1, -1, 2, -2]) : old * rng.pick([2, 0.5, 0, -1, 1e6])) : [old, old];
    case 7: return typeof old === 'string' ? old.slice(0, rng.int(old.length + 1)) : String(old);
    default: return Array.isArray(old) ? old.concat(old) : { value: old };
  }
}

/** Mutate one position of a JSON tree in place (or return a replacement for the root). */
export function mutateJson(rng: Rng, root: unknown, depth = 0): unknown {
  if (root === null || typeof root !== 'object' || depth > 6 || rng.chance(0.12)) return hostileValue(rng, root);
  const keys: Array<string | number> = Array.isArray(root) ? root.map((_, i) => i) : Object.keys(root);
  const obj = root as Record<string | number, unknown>;
  if (keys.length === 0) return hostileValue(rng, root);
  const r = rng.float();
  if (r < 0.1 && !Array.isArray(root)) {
    delete obj[rng.pick(keys)]; // a missing field
  } else if (r < 0.16 && !Array.isArray(root)) {
    obj[rng.pick(['extra', '__proto__', 'constructor', 'toString', `k${rng.int(9)}`])] = hostileValue(rng, null);
  } else if (r < 0.22 && Array.isArray(root)) {
    if (rng.chance(0.5)) (root as unknown[]).splice(rng.int(root.length), 1);
    else (root as unknown[]).push(root[rng.int(root.length)]);
  } else {
    const k = rng.pick(keys);
    obj[k] = mutateJson(rng, obj[k], depth + 1);
  }
  return root;
}

// --- the mutations ----------------------------------------------------------------------------------------------

type Mutation = (rng: Rng, bytes: Uint8Array, other: () => Uint8Array) => { bytes: Uint8Array; what: string };

/** Structured: parse, edit the header object, re-serialise with the header length right. */
function structured(edit: (rng: Rng, h: Record<string, unknown>, data: Uint8Array) => string | null): Mutation {
  return (rng, bytes) => {
    const p = parse(bytes);
    if (!p) return flipBytes(rng, bytes, () => bytes);
    const what = edit(rng, p.header, p.data);
    if (what === null) return flipBytes(rng, bytes, () => bytes);
    return { bytes: assemble(p.header, p.data), what };
  };
}

const mutateOffsets = structured((rng, h, data) => {
  const names = tensorNames(h);
  if (!names.length) return null;
  const name = rng.pick(names);
  const e = h[name] as { data_offsets: unknown; shape: number[]; dtype: string };
  const off = Array.isArray(e.data_offsets) ? (e.data_offsets as number[]) : [0, 0];
  const [b, end] = off;
  const other = h[rng.pick(names)] as { data_offsets: number[] };
  const choice = rng.int(10);
  const d = rng.pick([1, 2, 4, 8, 16, 64]) * (rng.chance(0.5) ? -1 : 1);
  const variants: unknown[] = [
    [b + d, end + d], // shifted: overlaps a neighbour or leaves the data
    [b, end + d], // size no longer matches the shape
    other.data_offsets, // another tensor's bytes
    [end, b],
    [b, data.length + rng.pick([0, 1, 4096, 2 ** 32])],
    [rng.pick(INTERESTING_NUMBERS), rng.pick(INTERESTING_NUMBERS)],
    [b],
    [String(b), end],
    null,
    [b, end, end],
  ];
  e.data_offsets = variants[choice];
  return `tensor ${name}.data_offsets ${JSON.stringify(off)} → ${JSON.stringify(e.data_offsets)}`;
});

const mutateDtype = structured((rng, h) => {
  const names = tensorNames(h);
  if (!names.length) return null;
  const name = rng.pick(names);
  const e = h[name] as { dtype: unknown; shape: number[] };
  const old = e.dtype;
  if (rng.chance(0.3) && Array.isArray(e.shape) && e.shape.length) {
    // size-preserving reinterpretation: F32 [.., n] as F16/I16 [.., 2n] or U8/I8 [.., 4n], so the offsets still agree
    const width: Record<string, number> = { F32: 4, I32: 4, F16: 2, BF16: 2, I16: 2, U16: 2, I8: 1, U8: 1, BOOL: 1, F64: 8, I64: 8 };
    const from = width[String(old)];
    const to = rng.pick(Object.keys(width));
    const last = e.shape[e.shape.length - 1];
    if (from && (last * from) % width[to] === 0) {
      e.dtype = to;
      e.shape = [...e.shape.slice(0, -1), (last * from) / width[to]];
      return `tensor ${name} ${String(old)} → ${to} (same bytes)`;
    }
  }
  e.dtype = rng.chance(0.85) ? rng.pick(DTYPES) : hostileValue(rng, old);
  return `tensor ${name}.dtype ${JSON.stringify(old)} → ${JSON.stringify(e.dtype)}`;
});

const mutateShape = structured((rng, h) => {
  const names = tensorNames(h);
  if (!names.length) return null;
  const name = rng.pick(names);
  const e = h[name] as { shape: unknown };
  const old = Array.isArray(e.shape) ? (e.shape as number[]).slice() : [];
  const s = old.slice();
  const numel = s.reduce((a, v) => a * v, 1);
  switch (rng.int(8)) {
    case 0: s.reverse(); break; // same size, wrong layout
    case 1: e.shape = [numel]; return `tensor ${name}.shape ${JSON.stringify(old)} → [${numel}] (flattened)`;
    case 2: s.push(1); break;
    case 3: s.splice(rng.int(Math.max(1, s.length)), 1); break;
    case 4: if (s.length) s[rng.int(s.length)] = rng.pick(INTERESTING_NUMBERS); break;
    case 5: if (s.length) { const i = rng.int(s.length); s[i] = s[i] + rng.pick([1, -1]); } break;
    case 6: e.shape = hostileValue(rng, old); return `tensor ${name}.shape ${JSON.stringify(old)} → ${JSON.stringify(e.shape)}`;
    default: {
      // a size-preserving split of one dimension, e.g. [64, 32] → [2, 32, 32]
      const i = rng.int(Math.max(1, s.length));
      if (s[i] % 2 === 0) s.splice(i, 1, 2, s[i] / 2);
    }
  }
  e.shape = s;
  return `tensor ${name}.shape ${JSON.stringify(old)} → ${JSON.stringify(s)}`;
});

const mutateNames = structured((rng, h) => {
  const names = tensorNames(h);
  if (!names.length) return null;
  const name = rng.pick(names);
  const entry = h[name];
  switch (rng.int(6)) {
    case 0: delete h[name]; return `tensor ${name} removed`;
    case 1: {
      const to = name.replace(/\d+/, (m) => String(Number(m) + rng.pick([1, 7, 100]))).replace(/weight$/, rng.chance(0.3) ? 'wieght' : 'weight');
      delete h[name]; h[to === name ? `${name}_x` : to] = entry; return `tensor ${name} renamed ${to}`;
    }
    case 2: h[`${name}.copy`] = entry; return `tensor ${name} duplicated (overlapping bytes)`;
    case 3: { const b = rng.pick(names); const eb = h[b]; h[b] = entry; h[name] = eb; return `tensors ${name} and ${b} swapped`; }
    case 4: { const k = rng.pick(['__proto__', 'constructor', 'hasOwnProperty', '', 'x'.repeat(5000)]); h[k] = entry; return `tensor entry added under ${JSON.stringify(k.slice(0, 20))}`; }
    default: h[name] = hostileValue(rng, entry); return `tensor ${name} entry → ${JSON.stringify(h[name])}`;
  }
});

/** Per-field hostile values for the config, so mutations reach validateConfig and the engine's memory plan. */
function mutateConfig(rng: Rng, c: Record<string, unknown>): string {
  const keys = ['imgSize', 'patch', 'inChans', 'dim', 'depth', 'heads', 'mlpHidden', 'numClasses', 'distilled', 'layerScale', 'noEmbedClass', 'eps'];
  const k = rng.pick(keys);
  const old = c[k];
  if (typeof old === 'boolean' && rng.chance(0.7)) c[k] = !old;
  else if (typeof old === 'number' && rng.chance(0.6)) c[k] = rng.pick([old * 2, old / 2, old + 1, old - 1, 1, 0, -old, old * 1024, 2 ** 20, 2 ** 20 + 1]);
  else c[k] = hostileValue(rng, old);
  return `config.${k} ${JSON.stringify(old)} → ${JSON.stringify(c[k])}`;
}

const mutateMetadata = structured((rng, h) => {
  const md = h.__metadata__ as Record<string, unknown> | undefined;
  if (!md || typeof md !== 'object') {
    h.__metadata__ = { format: 'vitguard/1' };
    return '__metadata__ replaced by {format}';
  }
  const r = rng.float();
  if (r < 0.05) { const old = md; h.__metadata__ = hostileValue(rng, old); return `__metadata__ → ${JSON.stringify(h.__metadata__).slice(0, 80)}`; }
  if (r < 0.1) { md[rng.pick(['format', 'config', 'labels', 'preprocessing', 'scheme', 'ood'])] = hostileValue(rng, null); return 'a __metadata__ value is not a string'; }
  const keys = Object.keys(md);
  const key = rng.weighted<string>([['config', 4], ['scheme', 3], ['ood', 3], ['labels', 2], ['preprocessing', 2], ['format', 1], ['arch', 1], [rng.pick(keys), 1]]);
  const raw = md[key];
  if (typeof raw !== 'string') { md[key] = JSON.stringify(raw ?? null); return `__metadata__.${key} stringified`; }
  if (rng.chance(0.12)) {
    md[key] = rng.pick(['', 'null', '[]', '{}', '1e999', '"x"', raw.slice(0, rng.int(raw.length)), raw + '}', '{"format":"vitguard-ood/1"}']);
    return `__metadata__.${key} → ${JSON.stringify(md[key]).slice(0, 80)}`;
  }
  if (rng.chance(0.08)) { delete md[key]; return `__metadata__.${key} removed`; }
  let tree: unknown;
  try { tree = JSON.parse(raw); } catch { md[key] = raw.slice(0, rng.int(raw.length + 1)); return `__metadata__.${key} (not JSON) cut`; }
  if (key === 'config' && tree && typeof tree === 'object' && rng.chance(0.7)) {
    const what = mutateConfig(rng, tree as Record<string, unknown>);
    md[key] = JSON.stringify(tree);
    return what;
  }
  if (key === 'scheme' && tree && typeof tree === 'object' && rng.chance(0.5)) {
    const s = tree as Record<string, unknown>;
    const field = rng.pick(['name', 'weightBits', 'actBits', 'group', 'act', 'layers', 'int8Layers', 'clip']);
    const old = s[field];
    const values: Record<string, unknown[]> = {
      name: ['fp32', 'w8a8', 'w4a8', 'w4a16', 'w4a4', 'sim', 'w2a2', 'w4a8-oa', ''],
      weightBits: [2, 3, 4, 8, 16, 32, 0, 9, -1],
      actBits: [2, 4, 8, 16, 32, 0, 1, 33],
      group: [0, 16, 32, 64, 128, 7, 33, -32, 1e9],
      act: ['dynamic', 'static', 'x'],
      layers: [[], ['head'], ['blocks.0.attn.qkv'], ['nope'], null],
      int8Layers: [[], ['head', 'head'], ['patch_embed.proj'], null],
      clip: ['minmax', 'mse', ''],
    };
    s[field] = rng.chance(0.8) ? rng.pick(values[field]) : hostileValue(rng, old);
    md[key] = JSON.stringify(s);
    return `scheme.${field} ${JSON.stringify(old)} → ${JSON.stringify(s[field])}`;
  }
  const before = raw.length;
  md[key] = JSON.stringify(mutateJson(rng, tree));
  return `__metadata__.${key} JSON mutated (${before} → ${String(md[key]).length} chars)`;
});

const mutateLength: Mutation = (rng, bytes) => {
  const out = bytes.slice();
  if (out.length < 8) return { bytes: out, what: 'too short for a length' };
  const dv = new DataView(out.buffer);
  const old = dv.getUint32(0, true);
  const v = rng.pick([old + 1, old - 1, old + 8, old - 8, 0, 1, 7, out.length - 8, out.length, 0xffffffff, 100 * 1024 * 1024, 100 * 1024 * 1024 + 1, rng.int(2 ** 32)]) >>> 0;
  dv.setUint32(0, v, true);
  if (rng.chance(0.2)) dv.setUint32(4, rng.pick([1, 0xffffffff, 0x80000000]), true);
  return { bytes: out, what: `header length ${old} → ${v} (high word ${dv.getUint32(4, true)})` };
};

const truncate: Mutation = (rng, bytes) => {
  const dv = bytes.length >= 8 ? new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true) : 0;
  const at = rng.weighted<number>([[rng.int(9), 1], [8 + rng.int(Math.max(1, dv)), 2], [Math.max(0, bytes.length - 1 - rng.int(64)), 2], [rng.int(bytes.length), 2]]);
  return { bytes: bytes.slice(0, at), what: `truncated at ${at} of ${bytes.length}` };
};

function flipBytes(rng: Rng, bytes: Uint8Array, _other: () => Uint8Array): { bytes: Uint8Array; what: string } {
  const out = bytes.slice();
  const headerEnd = out.length >= 8 ? Math.min(out.length, 8 + new DataView(out.buffer).getUint32(0, true)) : out.length;
  const n = rng.pick([1, 1, 2, 4, 16]);
  const inHeader = rng.chance(0.6) && headerEnd > 8;
  for (let i = 0; i < n; i++) {
    const p = inHeader ? 8 + rng.int(headerEnd - 8) : rng.int(out.length);
    out[p] = rng.chance(0.5) ? rng.byte() : out[p] ^ (1 << rng.int(8));
  }
  return { bytes: out, what: `${n} byte(s) changed in the ${inHeader ? 'header' : 'file'}` };
}

/** Weights set to values that break arithmetic: NaN, ±Inf, 3e38 (overflows in the first sum), denormals, −0. */
const poisonWeights: Mutation = (rng, bytes) => {
  const p = parse(bytes);
  if (!p) return flipBytes(rng, bytes, () => bytes);
  const names = tensorNames(p.header).filter((n) => {
    const e = p.header[n] as { dtype?: string };
    const off = (e as { data_offsets?: unknown })?.data_offsets;
    return e && typeof e === 'object' && ['F32', 'F16', 'I8', 'U8'].includes(String(e.dtype)) && Array.isArray(off) &&
      Number.isInteger(off[0]) && Number.isInteger(off[1]) && 0 <= off[0] && off[0] + 4 <= off[1] && off[1] <= p.data.length;
  });
  if (!names.length) return flipBytes(rng, bytes, () => bytes);
  const name = rng.pick(names);
  const e = p.header[name] as { dtype: string; data_offsets: [number, number] };
  const [b, end] = e.data_offsets;
  const out = bytes.slice();
  const base = bytes.length - p.data.length + b;
  const dv = new DataView(out.buffer);
  const count = rng.pick([1, 3, Math.max(1, (end - b) >> 4), 1 << 30]);
  const value = rng.pick([NaN, Infinity, -Infinity, 3e38, -3e38, 1e20, 1e-42, -0, 65504, 1e30]);
  let written = 0;
  if (e.dtype === 'F32') {
    for (let i = 0; i < count && (i * 4) + 4 <= end - b; i++, written++) dv.setFloat32(base + (count >= (end - b) >> 2 ? i * 4 : rng.int((end - b) >> 2) * 4), value, true);
  } else if (e.dtype === 'F16') {
    const h = Number.isNaN(value) ? 0x7e00 : Math.abs(value) > 65504 ? (value < 0 ? 0xfc00 : 0x7c00) : 0x7bff;
    for (let i = 0; i < count && (i * 2) + 2 <= end - b; i++, written++) dv.setUint16(base + rng.int((end - b) >> 1) * 2, h, true);
  } else {
    for (let i = 0; i < count && i < end - b; i++, written++) out[base + rng.int(end - b)] = rng.pick([0x80, 0x7f, 0xff, 0, 0x88]);
  }
  return { bytes: out, what: `${written} value(s) of ${name} (${e.dtype}) set to ${e.dtype === 'F32' || e.dtype === 'F16' ? value : 'extreme integers'}` };
};

const splice: Mutation = (rng, bytes, other) => {
  const a = parse(bytes), b = parse(other());
  if (!a || !b) return flipBytes(rng, bytes, other);
  if (rng.chance(0.5)) return { bytes: assemble(a.header, b.data), what: 'header of one model with the data of another' };
  const md = b.header.__metadata__;
  a.header.__metadata__ = md;
  return { bytes: assemble(a.header, a.data), what: 'tensors of one model with the metadata of another' };
};

/** Header text edits the structured path cannot make: invalid UTF-8, duplicate keys, deep nesting, a BOM. */
const rawJson: Mutation = (rng, bytes) => {
  const p = parse(bytes);
  if (!p) return flipBytes(rng, bytes, () => bytes);
  const json = JSON.stringify(p.header);
  const kind = rng.int(5);
  if (kind === 0) {
    const out = assemble(null, p.data, json);
    out[8 + rng.int(json.length)] = rng.pick([0xff, 0xc0, 0xe2, 0x80]);
    return { bytes: out, what: 'header with invalid UTF-8' };
  }
  const names = tensorNames(p.header);
  const edited = kind === 1 && names.length
    ? json.slice(0, -1) + `,${JSON.stringify(rng.pick(names))}:${JSON.stringify(p.header[rng.pick(names)])}}` // a duplicate key: the last wins
    : kind === 2 ? '['.repeat(rng.pick([1000, 100000])) + ']'.repeat(rng.pick([0, 1000, 100000]))
    : kind === 3 ? '\ufeff' + json
    : json.replace(/"data_offsets":\[(\d+)/, (_, d) => `"data_offsets":[${d}.0e0`);
  return { bytes: assemble(null, p.data, edited), what: ['invalid UTF-8', 'a duplicate tensor key', 'deeply nested brackets', 'a byte-order mark', 'an offset written as 1.0e0'][kind] };
};

const MUTATIONS: ReadonlyArray<readonly [Mutation, number]> = [
  [mutateMetadata, 6], [mutateOffsets, 3], [mutateDtype, 2], [mutateShape, 3], [mutateNames, 2], [mutateLength, 1],
  [truncate, 2], [flipBytes, 2], [poisonWeights, 3], [splice, 1], [rawJson, 1],
];

/** 1–3 mutations of a seed model. */
export function mutateModel(rng: Rng, seed: Uint8Array, other: () => Uint8Array): { bytes: Uint8Array; mutations: string[] } {
  let bytes = seed;
  const mutations: string[] = [];
  const n = rng.weighted<number>([[1, 6], [2, 3], [3, 1]]);
  for (let i = 0; i < n; i++) {
    const m = rng.weighted(MUTATIONS);
    let r: { bytes: Uint8Array; what: string };
    try {
      r = m(rng, bytes, other);
    } catch {
      r = flipBytes(rng, bytes, other); // a mutation that could not apply to what earlier ones left (deterministic)
    }
    bytes = r.bytes;
    mutations.push(r.what);
  }
  return { bytes, mutations };
}
