// Mutations of PNG and JPEG files. Beyond flipping bytes, both formats are taken apart (PNG into chunks, JPEG into
// marker segments and entropy-coded scans) so a mutation can reach one field and leave the rest valid:
//   PNG: IHDR width / height / bit depth / colour type / interlace (CRC recomputed), chunk lengths (huge declared
//        lengths, iCCP / zTXt / tEXt), chunk types, PLTE and tRNS sizes, the inflated scanlines (filter bytes, pixels)
//        re-deflated, a deflate bomb behind a huge IHDR, chunks dropped, duplicated, reordered, split;
//   JPEG: SOF precision / width / height / components / sampling factors / quantisation table ids, the SOF kind
//        (progressive, lossless, arithmetic), DHT counts and symbols, DQT precision and ids, SOS component and table
//        selectors and spectral fields, DRI, segment lengths, duplicated scans, an EXIF APP1 with hostile IFDs and
//        orientations, an Adobe APP14 transform, entropy-coded bytes and restart markers;
//   both: truncation anywhere, byte flips, one format's header on the other's body.

import { deflateSync, inflateSync } from 'node:zlib';
import { crc32 } from '../../sdk/image/png.js';
import type { Rng } from './rng.js';
import { INTERESTING_NUMBERS } from './rng.js';

// --- PNG ---------------------------------------------------------------------------------------------------------

const PNG_SIG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

interface Chunk {
  type: string;
  data: Uint8Array;
  /** Written as is when set (a lying length); otherwise data.length. */
  length?: number;
  /** Keep a wrong CRC (the default recomputes it). */
  badCrc?: boolean;
}

export function parsePng(bytes: Uint8Array): Chunk[] | null {
  if (bytes.length < 8 || !PNG_SIG.every((b, i) => bytes[i] === b)) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks: Chunk[] = [];
  let p = 8;
  while (p + 12 <= bytes.length) {
    const len = dv.getUint32(p);
    if (p + 12 + len > bytes.length) return chunks.length ? chunks : null;
    chunks.push({ type: String.fromCharCode(...bytes.subarray(p + 4, p + 8)), data: bytes.slice(p + 8, p + 8 + len) });
    p += 12 + len;
  }
  return chunks;
}

export function writePng(chunks: Chunk[]): Uint8Array {
  const size = 8 + chunks.reduce((s, c) => s + 12 + c.data.length, 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out.set(PNG_SIG);
  let p = 8;
  for (const c of chunks) {
    dv.setUint32(p, (c.length ?? c.data.length) >>> 0);
    for (let i = 0; i < 4; i++) out[p + 4 + i] = c.type.charCodeAt(i) & 0xff;
    out.set(c.data, p + 8);
    const crc = crc32(out.subarray(p + 4, p + 8 + c.data.length));
    dv.setUint32(p + 8 + c.data.length, c.badCrc ? crc ^ 0x5a5a : crc);
    p += 12 + c.data.length;
  }
  return out;
}

let bombCache: Uint8Array | null = null;
/** The zlib stream of 4096 rows of 4097 zero bytes (filter 0 + 4096 grey pixels): 16 MiB of pixels from ~16 KiB. */
function bombStream(): Uint8Array {
  bombCache ??= new Uint8Array(deflateSync(new Uint8Array(4097 * 4096), { level: 9 }));
  return bombCache;
}

type PngEdit = (rng: Rng, chunks: Chunk[]) => string;

const IHDR_FIELDS: ReadonlyArray<readonly [string, number, number]> = [
  ['width', 0, 4], ['height', 4, 4], ['bit depth', 8, 1], ['colour type', 9, 1], ['compression', 10, 1], ['filter', 11, 1], ['interlace', 12, 1],
];

const pngEdits: ReadonlyArray<readonly [PngEdit, number]> = [
  [(rng, chunks) => { // one IHDR field
    const ih = chunks.find((c) => c.type === 'IHDR');
    if (!ih || ih.data.length < 13) return 'no IHDR';
    const dv = new DataView(ih.data.buffer, ih.data.byteOffset, ih.data.byteLength);
    const [name, off, size] = rng.pick(IHDR_FIELDS);
    if (size === 4) {
      const old = dv.getUint32(off);
      const v = rng.pick([0, 1, 2, old * 2, old + 1, old - 1, 8000, 20000, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 0xffffffff, rng.int(2 ** 32)]) >>> 0;
      dv.setUint32(off, v);
      return `IHDR ${name} ${old} → ${v}`;
    }
    const old = ih.data[off];
    ih.data[off] = name === 'bit depth' ? rng.pick([0, 1, 2, 3, 4, 8, 16, 32, 255]) : name === 'colour type' ? rng.pick([0, 1, 2, 3, 4, 5, 6, 7, 255]) : rng.pick([0, 1, 2, 255]);
    return `IHDR ${name} ${old} → ${ih.data[off]}`;
  }, 5],
  [(rng, chunks) => { // a lying chunk length
    const c = rng.pick(chunks);
    const v = rng.pick([0, 1, c.data.length + 1, Math.max(0, c.data.length - 1), 2 ** 31 - 1, 0xffffffff, 0x7ffffff0]);
    c.length = v;
    return `${c.type} length ${c.data.length} → ${v}`;
  }, 2],
  [(rng, chunks) => { // an ancillary chunk that declares far more than it holds, or holds a decompression bomb
    const type = rng.pick(['iCCP', 'zTXt', 'tEXt', 'iTXt', 'eXIf', 'sPLT', 'acTL']);
    const at = Math.min(1 + rng.int(Math.max(1, chunks.length - 1)), chunks.length);
    if (rng.chance(0.5)) {
      chunks.splice(at, 0, { type, data: new Uint8Array(rng.int(64)), length: rng.pick([2 ** 31 - 1, 0xffffffff, 100_000_000]) });
      return `${type} declaring a huge length`;
    }
    const name = new TextEncoder().encode('icc\0\0');
    const body = new Uint8Array(name.length + bombStream().length);
    body.set(name);
    body.set(bombStream(), name.length);
    chunks.splice(at, 0, { type, data: body });
    return `${type} holding 16 MiB of zeros deflated`;
  }, 2],
  [(rng, chunks) => { // the scanlines themselves: filter bytes out of range, pixels changed, then re-deflated
    const idats = chunks.filter((c) => c.type === 'IDAT');
    if (!idats.length) return 'no IDAT';
    let raw: Uint8Array;
    try {
      raw = new Uint8Array(inflateSync(concat(idats.map((c) => c.data))));
    } catch {
      return 'IDAT did not inflate';
    }
    const what = rng.int(4);
    if (what === 0 && raw.length) for (let i = 0; i < 4; i++) raw[rng.int(raw.length)] = rng.pick([5, 6, 255, 4]);
    else if (what === 1) raw = raw.subarray(0, rng.int(raw.length + 1));
    else if (what === 2) raw = concat([raw, new Uint8Array(rng.pick([1, 100, 100_000]))]);
    else for (let i = 0; i < 16 && raw.length; i++) raw[rng.int(raw.length)] = rng.byte();
    const z = new Uint8Array(deflateSync(raw));
    const first = chunks.indexOf(idats[0]);
    for (const c of idats) chunks.splice(chunks.indexOf(c), 1);
    chunks.splice(first, 0, { type: 'IDAT', data: z });
    return ['filter bytes out of range', 'scanlines cut short', 'extra scanline bytes', 'pixel bytes changed'][what] + ' (re-deflated)';
  }, 3],
  [(rng, chunks) => { // a bomb: huge IHDR over a small deflate stream of zeros
    const ih = chunks.find((c) => c.type === 'IHDR');
    if (!ih || ih.data.length < 13) return 'no IHDR';
    const dv = new DataView(ih.data.buffer, ih.data.byteOffset, ih.data.byteLength);
    const side = rng.pick([4096, 8000, 20000, 65535]);
    dv.setUint32(0, side);
    dv.setUint32(4, rng.chance(0.5) ? side : 4096);
    ih.data.set([8, 0, 0, 0, 0], 8); // 8-bit grey, not interlaced
    for (const c of chunks.filter((x) => x.type === 'IDAT' || x.type === 'PLTE' || x.type === 'tRNS')) chunks.splice(chunks.indexOf(c), 1);
    chunks.splice(chunks.length - 1, 0, { type: 'IDAT', data: bombStream() });
    return `bomb: IHDR ${dv.getUint32(0)}×${dv.getUint32(4)} over 16 MiB of deflated zeros`;
  }, 2],
  [(rng, chunks) => { // the zlib header or trailer
    const idat = chunks.find((c) => c.type === 'IDAT');
    if (!idat || idat.data.length < 6) return 'no IDAT';
    const where = rng.pick([0, 1, idat.data.length - 1, idat.data.length - 4]);
    idat.data[where] = rng.byte();
    return `zlib byte ${where} of IDAT changed`;
  }, 1],
  [(rng, chunks) => { // PLTE / tRNS sizes
    const type = rng.pick(['PLTE', 'tRNS']);
    const n = rng.pick([0, 1, 2, 3, 255, 256 * 3, 257 * 3, 3000]);
    const old = chunks.find((c) => c.type === type);
    const data = Uint8Array.from({ length: n }, (_, i) => (i * 37) & 255);
    if (old) old.data = data;
    else chunks.splice(1, 0, { type, data });
    return `${type} of ${n} bytes`;
  }, 2],
  [(rng, chunks) => { // chunk order and count
    const i = rng.int(chunks.length);
    switch (rng.int(5)) {
      case 0: { const [c] = chunks.splice(i, 1); return `${c.type} removed`; }
      case 1: chunks.splice(i, 0, { ...chunks[i], data: chunks[i].data.slice() }); return `${chunks[i].type} duplicated`;
      case 2: { const j = rng.int(chunks.length); [chunks[i], chunks[j]] = [chunks[j], chunks[i]]; return `${chunks[i].type} and ${chunks[j].type} swapped`; }
      case 3: { // an IDAT split into many small ones (legal) or empty ones
        const idat = chunks.findIndex((c) => c.type === 'IDAT');
        if (idat < 0) return 'no IDAT';
        const d = chunks[idat].data;
        const step = rng.pick([1, 7, 64]);
        const parts: Chunk[] = [];
        for (let p = 0; p < d.length; p += step) parts.push({ type: 'IDAT', data: d.slice(p, p + step) });
        if (rng.chance(0.3)) parts.push(...Array.from({ length: 1000 }, () => ({ type: 'IDAT', data: new Uint8Array(0) })));
        chunks.splice(idat, 1, ...parts);
        return `IDAT split into ${parts.length} chunks`;
      }
      default: { const c = rng.pick(chunks); c.type = rng.pick(['IDAx', 'idat', 'IHDR', 'IEND', 'fcTL', 'JUNK', 'I\0DT']); return `a chunk renamed ${c.type}`; }
    }
  }, 2],
  [(rng, chunks) => { const c = rng.pick(chunks); c.badCrc = true; return `${c.type} CRC wrong`; }, 1],
];

function mutatePng(rng: Rng, bytes: Uint8Array): { bytes: Uint8Array; what: string } | null {
  const chunks = parsePng(bytes);
  if (!chunks || !chunks.length) return null;
  const edit = rng.weighted(pngEdits);
  const what = edit(rng, chunks);
  return { bytes: writePng(chunks), what: `png: ${what}` };
}

// --- JPEG --------------------------------------------------------------------------------------------------------

interface Segment {
  marker: number;
  /** Payload after the two length bytes (empty for markers without one). */
  data: Uint8Array;
  /** Entropy-coded bytes that follow an SOS segment (up to the next marker). */
  scan?: Uint8Array;
  /** Written as is when set (a lying length). */
  length?: number;
}

const STANDALONE = (m: number) => m === 0xd8 || m === 0xd9 || m === 0x01 || (m >= 0xd0 && m <= 0xd7);

export function parseJpeg(bytes: Uint8Array): Segment[] | null {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  const segs: Segment[] = [{ marker: 0xd8, data: new Uint8Array(0) }];
  let p = 2;
  while (p + 1 < bytes.length) {
    if (bytes[p] !== 0xff) return null;
    const m = bytes[p + 1];
    if (m === 0xff) { p++; continue; }
    if (STANDALONE(m)) {
      segs.push({ marker: m, data: new Uint8Array(0) });
      p += 2;
      if (m === 0xd9) break;
      continue;
    }
    if (p + 4 > bytes.length) return null;
    const len = (bytes[p + 2] << 8) | bytes[p + 3];
    if (len < 2 || p + 2 + len > bytes.length) return null;
    const seg: Segment = { marker: m, data: bytes.slice(p + 4, p + 2 + len) };
    p += 2 + len;
    if (m === 0xda) {
      // entropy-coded data: up to a marker that is not a stuffed zero or a restart marker
      let q = p;
      while (q + 1 < bytes.length && !(bytes[q] === 0xff && bytes[q + 1] !== 0 && !(bytes[q + 1] >= 0xd0 && bytes[q + 1] <= 0xd7))) q++;
      seg.scan = bytes.slice(p, q);
      p = q;
    }
    segs.push(seg);
  }
  return segs;
}

export function writeJpeg(segs: Segment[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const s of segs) {
    if (STANDALONE(s.marker)) {
      parts.push(Uint8Array.from([0xff, s.marker]));
      continue;
    }
    const len = s.length ?? s.data.length + 2;
    parts.push(Uint8Array.from([0xff, s.marker, (len >> 8) & 0xff, len & 0xff]), s.data);
    if (s.scan) parts.push(s.scan);
  }
  return concat(parts);
}

const isSof = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

/** An APP1 EXIF segment: a little- or big-endian TIFF header and one IFD whose entries a mutation may make hostile. */
function exifSegment(rng: Rng): { seg: Segment; what: string } {
  const le = rng.chance(0.5);
  const entries = rng.pick([1, 2, 0, 0xffff]);
  const realEntries = Math.min(entries, 4);
  const buf = new Uint8Array(6 + 8 + 2 + realEntries * 12 + 4 + 16);
  const dv = new DataView(buf.buffer);
  buf.set(new TextEncoder().encode('Exif\0\0'));
  const t = 6; // TIFF header start: offsets below are relative to it
  buf.set(le ? [0x49, 0x49, 0x2a, 0x00] : [0x4d, 0x4d, 0x00, 0x2a], t);
  const ifdOffset = rng.pick([8, 8, 8, 0, 4, 0xffffffff, buf.length]);
  dv.setUint32(t + 4, ifdOffset >>> 0, le);
  dv.setUint16(t + 8, entries, le);
  const orientation = rng.pick([1, 3, 6, 8, 2, 4, 5, 7, 0, 9, 0xffff]);
  for (let i = 0; i < realEntries; i++) {
    const e = t + 10 + i * 12;
    dv.setUint16(e, i === 0 ? 0x0112 : rng.pick([0x0112, 0x8769, 0x0100]), le); // orientation, EXIF IFD pointer, width
    dv.setUint16(e + 2, rng.pick([3, 3, 4, 1, 7, 0, 99]), le); // SHORT, LONG, BYTE, UNDEFINED, bad types
    dv.setUint32(e + 4, rng.pick([1, 1, 2, 0, 0xffffffff, 0x10000]), le); // count
    dv.setUint16(e + 8, orientation, le);
  }
  dv.setUint32(t + 10 + realEntries * 12, rng.pick([0, 8, 0xffffffff]), le); // next IFD: none, itself (a loop), far away
  return { seg: { marker: 0xe1, data: buf }, what: `EXIF APP1 (${le ? 'II' : 'MM'}, IFD at ${ifdOffset}, ${entries} entries, orientation ${orientation})` };
}

type JpegEdit = (rng: Rng, segs: Segment[]) => string;

const jpegEdits: ReadonlyArray<readonly [JpegEdit, number]> = [
  [(rng, segs) => { // an SOF field
    const sof = segs.find((s) => isSof(s.marker));
    if (!sof || sof.data.length < 6) return 'no SOF';
    const d = sof.data;
    const field = rng.int(6);
    if (field === 0) { const o = d[0]; d[0] = rng.pick([0, 1, 8, 12, 16, 255]); return `SOF precision ${o} → ${d[0]}`; }
    if (field === 1 || field === 2) {
      const off = field === 1 ? 1 : 3;
      const old = (d[off] << 8) | d[off + 1];
      const v = rng.pick([0, 1, 2, old * 2, old + 1, old - 1, 4000, 12000, 30000, 65535]) & 0xffff;
      d[off] = v >> 8; d[off + 1] = v & 0xff;
      return `SOF ${field === 1 ? 'height' : 'width'} ${old} → ${v}`;
    }
    if (field === 3) { const o = d[5]; d[5] = rng.pick([0, 1, 2, 3, 4, 5, 255]); return `SOF components ${o} → ${d[5]}`; }
    const comps = Math.floor((d.length - 6) / 3);
    if (!comps) return 'SOF without components';
    const c = rng.int(comps);
    if (field === 4) { const o = d[6 + c * 3 + 1]; d[6 + c * 3 + 1] = rng.pick([0x00, 0x11, 0x12, 0x21, 0x22, 0x44, 0x41, 0x14, 0xff, 0x50, 0x05]); return `SOF component ${c} sampling ${o.toString(16)} → ${d[6 + c * 3 + 1].toString(16)}`; }
    const o = d[6 + c * 3 + 2]; d[6 + c * 3 + 2] = rng.pick([0, 1, 2, 3, 4, 255]); return `SOF component ${c} quant table ${o} → ${d[6 + c * 3 + 2]}`;
  }, 5],
  [(rng, segs) => { // the SOF kind
    const sof = segs.find((s) => isSof(s.marker));
    if (!sof) return 'no SOF';
    const o = sof.marker;
    sof.marker = rng.pick([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);
    return `SOF${(o & 15).toString(16)} → SOF${(sof.marker & 15).toString(16)}`;
  }, 2],
  [(rng, segs) => { // a Huffman table
    const dhts = segs.filter((s) => s.marker === 0xc4);
    if (!dhts.length) return 'no DHT';
    const d = rng.pick(dhts).data;
    if (d.length < 17) return 'short DHT';
    const what = rng.int(4);
    if (what === 0) { d[0] = rng.pick([0x00, 0x01, 0x10, 0x11, 0x02, 0x13, 0x04, 0x20, 0xff]); return `DHT class/id → ${d[0].toString(16)}`; }
    if (what === 1) { const i = 1 + rng.int(16); const o = d[i]; d[i] = rng.pick([0, 1, 2, 3, 16, 200, 255]); return `DHT count of length ${i} ${o} → ${d[i]}`; }
    if (what === 2) { d.fill(0, 1, 17); return 'DHT with no codes'; }
    const i = 17 + rng.int(Math.max(1, d.length - 17));
    if (i < d.length) d[i] = rng.byte();
    return 'DHT symbol changed';
  }, 3],
  [(rng, segs) => { // a quantisation table
    const dqt = segs.find((s) => s.marker === 0xdb);
    if (!dqt || !dqt.data.length) return 'no DQT';
    if (rng.chance(0.5)) { const o = dqt.data[0]; dqt.data[0] = rng.pick([0x00, 0x01, 0x03, 0x04, 0x10, 0x1f, 0xff]); return `DQT precision/id ${o.toString(16)} → ${dqt.data[0].toString(16)}`; }
    dqt.data.fill(rng.pick([0, 255]), 1);
    return 'DQT values all extreme';
  }, 2],
  [(rng, segs) => { // a scan header
    const sos = segs.find((s) => s.marker === 0xda);
    if (!sos || sos.data.length < 4) return 'no SOS';
    const d = sos.data;
    const what = rng.int(4);
    if (what === 0) { const o = d[0]; d[0] = rng.pick([0, 1, 2, 4, 5, 255]); return `SOS components ${o} → ${d[0]}`; }
    if (what === 1 && d.length >= 3) { d[1] = rng.pick([0, 1, 2, 3, 4, 255]); d[2] = rng.pick([0x00, 0x11, 0x33, 0x44, 0xff]); return `SOS selector → ${d[1]}/${d[2].toString(16)}`; }
    const tail = d.length - 3;
    d[tail + rng.int(3)] = rng.pick([0, 1, 63, 64, 255, 0x13, 0xff]);
    return 'SOS spectral selection / approximation changed';
  }, 3],
  [(rng, segs) => { // restart interval
    const v = rng.pick([0, 1, 2, 65535]);
    segs.splice(1, 0, { marker: 0xdd, data: Uint8Array.from([v >> 8, v & 0xff]) });
    return `DRI ${v}`;
  }, 1],
  [(rng, segs) => { // a lying segment length
    const cand = segs.filter((s) => !STANDALONE(s.marker));
    if (!cand.length) return 'no segments';
    const s = rng.pick(cand);
    s.length = rng.pick([0, 1, 2, 3, s.data.length + 1, s.data.length + 3, s.data.length - 1, 65535]) & 0xffff;
    return `segment ${s.marker.toString(16)} length ${s.data.length + 2} → ${s.length}`;
  }, 2],
  [(rng, segs) => { // segments dropped, duplicated (many scans), reordered
    const i = 1 + rng.int(Math.max(1, segs.length - 1));
    if (i >= segs.length) return 'nothing to reorder';
    switch (rng.int(4)) {
      case 0: { const [s] = segs.splice(i, 1); return `segment ${s.marker.toString(16)} removed`; }
      case 1: { // one scan (any: a short refinement scan costs as much decoding as a long one) repeated
        const scans = segs.map((s, k) => (s.marker === 0xda ? k : -1)).filter((k) => k >= 0);
        if (!scans.length) return 'no SOS';
        const sos = rng.pick(scans);
        const n = rng.pick([2, 10, 200, 2000]);
        const copies = Array.from({ length: n }, () => ({ ...segs[sos] }));
        segs.splice(sos + 1, 0, ...copies);
        return `scan ${scans.indexOf(sos) + 1} of ${scans.length} repeated ${n} times`;
      }
      case 2: { const j = 1 + rng.int(segs.length - 1); [segs[i], segs[j]] = [segs[j], segs[i]]; return 'two segments swapped'; }
      default: segs.splice(i, 0, { ...segs[i], data: segs[i].data.slice() }); return `segment ${segs[i].marker.toString(16)} duplicated`;
    }
  }, 2],
  [(rng, segs) => { // EXIF orientation and IFDs
    const ex = exifSegment(rng);
    segs.splice(1, 0, ex.seg);
    return ex.what;
  }, 2],
  [(rng, segs) => { // Adobe APP14: colour transform (0 = none / CMYK, 1 = YCbCr, 2 = YCCK)
    const t = rng.pick([0, 1, 2, 255]);
    const data = Uint8Array.from([0x41, 0x64, 0x6f, 0x62, 0x65, 0, 100, 0, 0, 0, 0, t]);
    segs.splice(1, 0, { marker: 0xee, data });
    return `Adobe APP14 transform ${t}`;
  }, 1],
  [(rng, segs) => { // entropy-coded data
    const scans = segs.filter((s) => s.scan && s.scan.length);
    if (!scans.length) return 'no scan data';
    const s = rng.pick(scans);
    const d = s.scan!.slice();
    const what = rng.int(4);
    if (what === 0) for (let i = 0; i < rng.pick([1, 4, 32]); i++) d[rng.int(d.length)] = rng.byte();
    else if (what === 1) { const at = rng.int(d.length); s.scan = concat([d.subarray(0, at), Uint8Array.from([0xff, rng.pick([0xd0, 0xd3, 0xd7, 0xd9, 0xc4, 0x00])]), d.subarray(at)]); return 'a marker inside the scan'; }
    else if (what === 2) { s.scan = d.subarray(0, rng.int(d.length)); return 'scan data cut short'; }
    else d.fill(0xff, rng.int(d.length));
    s.scan = d;
    return 'scan bytes changed';
  }, 3],
];

function mutateJpeg(rng: Rng, bytes: Uint8Array): { bytes: Uint8Array; what: string } | null {
  const segs = parseJpeg(bytes);
  if (!segs) return null;
  const edit = rng.weighted(jpegEdits);
  const what = edit(rng, segs);
  return { bytes: writeJpeg(segs), what: `jpeg: ${what}` };
}

// --- format-blind ------------------------------------------------------------------------------------------------

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function flip(rng: Rng, bytes: Uint8Array): { bytes: Uint8Array; what: string } {
  const out = bytes.slice();
  if (!out.length) return { bytes: Uint8Array.from([rng.byte()]), what: 'one byte' };
  const n = rng.pick([1, 2, 4, 8, 32]);
  const head = rng.chance(0.5); // the first 64 bytes hold the headers of both formats
  for (let i = 0; i < n; i++) {
    const p = head ? rng.int(Math.min(64, out.length)) : rng.int(out.length);
    out[p] = rng.chance(0.5) ? rng.byte() : out[p] ^ (1 << rng.int(8));
  }
  return { bytes: out, what: `${n} byte(s) changed${head ? ' in the first 64' : ''}` };
}

function cut(rng: Rng, bytes: Uint8Array): { bytes: Uint8Array; what: string } {
  const at = rng.weighted<number>([[rng.int(Math.min(bytes.length, 40) + 1), 1], [rng.int(bytes.length + 1), 3], [Math.max(0, bytes.length - 1 - rng.int(16)), 1]]);
  return { bytes: bytes.slice(0, at), what: `truncated at ${at} of ${bytes.length}` };
}

function spliceFormats(rng: Rng, bytes: Uint8Array, other: Uint8Array): { bytes: Uint8Array; what: string } {
  const a = rng.int(Math.min(bytes.length, 200) + 1);
  const b = rng.int(other.length + 1);
  return { bytes: concat([bytes.subarray(0, a), other.subarray(b)]), what: `first ${a} bytes of one image, then another from byte ${b}` };
}

function insertBytes(rng: Rng, bytes: Uint8Array): { bytes: Uint8Array; what: string } {
  const at = rng.int(bytes.length + 1);
  const n = rng.pick([1, 4, 16, 1024]);
  const ins = Uint8Array.from({ length: n }, () => rng.byte());
  if (rng.chance(0.5)) return { bytes: concat([bytes.subarray(0, at), ins, bytes.subarray(at)]), what: `${n} bytes inserted at ${at}` };
  return { bytes: concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + n))]), what: `${n} bytes deleted at ${at}` };
}

/** 1–3 mutations of a seed image; structured ones where the format parses, byte-level ones anywhere. */
export function mutateImage(rng: Rng, seed: Uint8Array, other: () => Uint8Array): { bytes: Uint8Array; mutations: string[] } {
  let bytes = seed;
  const mutations: string[] = [];
  const n = rng.weighted<number>([[1, 6], [2, 3], [3, 1]]);
  for (let i = 0; i < n; i++) {
    const kind = rng.weighted<string>([['structured', 7], ['flip', 2], ['cut', 1.5], ['insert', 0.7], ['splice', 0.3], ['number', 0.3]]);
    let r: { bytes: Uint8Array; what: string } | null = null;
    try {
    if (kind === 'structured') r = mutatePng(rng, bytes) ?? mutateJpeg(rng, bytes);
    else if (kind === 'cut') r = cut(rng, bytes);
    else if (kind === 'insert') r = insertBytes(rng, bytes);
    else if (kind === 'splice') r = spliceFormats(rng, bytes, other());
    else if (kind === 'number' && bytes.length >= 24) {
      // a 32-bit big-endian field anywhere in the first 64 bytes set to an extreme
      const out = bytes.slice();
      const p = rng.int(Math.min(60, out.length - 4));
      new DataView(out.buffer).setUint32(p, rng.pick(INTERESTING_NUMBERS) >>> 0);
      r = { bytes: out, what: `u32 at ${p} set to an extreme` };
    }
    } catch {
      r = null; // a mutation that could not apply to what earlier ones left: a byte flip instead (deterministic)
    }
    r ??= flip(rng, bytes);
    bytes = r.bytes;
    mutations.push(r.what);
  }
  return { bytes, mutations };
}
