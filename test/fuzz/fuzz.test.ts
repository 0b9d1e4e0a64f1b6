// The fuzzer inside `npm test`: every input it ever failed on (test/fixtures/fuzz/*.bin) is replayed, a few hundred
// fresh seeded cases run (the full 10,000 × 2 is `npm run fuzz`), and the limits its findings led to are checked
// directly: each ends in a correct result or a typed VitguardError, never a TypeError, a RangeError or a bad number.

import { describe, expect, test } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Classifier } from '../../sdk/classifier.js';
import { Engine } from '../../sdk/engine/engine.js';
import { VitguardError } from '../../sdk/errors.js';
import { encodeMeta, readModel, type ViTConfig } from '../../sdk/format/model.js';
import { MAX_HEADER_TOKENS, readSafetensors, writeSafetensors } from '../../sdk/format/safetensors.js';
import { randomCheckpoint } from '../../sdk/model/random.js';
import { FUZZ_MODEL_MEMORY_BYTES, generateCase, KNOWN_CODES, runCase, type Outcome } from './cases.js';
import type { FuzzKind } from './rng.js';
import { ROOT } from './seeds.js';
import { parseJpeg, writeJpeg } from './mutate-image.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'fuzz');

const describeOutcome = (o: Outcome) => (o.status === 'fail' ? o.reason : o.status === 'error' ? o.code : 'ok');

describe('inputs the fuzzer failed on, replayed', () => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.bin')).sort();
  test('the folder holds the failures found so far', () => expect(files.length).toBeGreaterThan(0));
  for (const f of files) {
    const kind = f.split('-')[0] as FuzzKind;
    test(`${f}: ${JSON.parse(readFileSync(join(FIXTURES, f.replace(/\.bin$/, '.json')), 'utf8')).failure.slice(0, 70)}`, async () => {
      expect(['model', 'image']).toContain(kind);
      // both probe images (models) or both paths, the SDK's and the edge demo's (images): see cases.ts
      for (const index of [0, 1]) {
        const out = await runCase(kind, new Uint8Array(readFileSync(join(FIXTURES, f))), index);
        expect(out.status, describeOutcome(out)).not.toBe('fail');
      }
    });
  }
});

describe('seeded cases (npm run fuzz runs 10,000 of each)', () => {
  for (const [kind, n] of [['model', 200], ['image', 150]] as const) {
    test(`${n} ${kind} cases, seed 2024: each a correct result or a typed error`, async () => {
      const codes = new Map<string, number>();
      const failures: string[] = [];
      for (let i = 0; i < n; i++) {
        const c = generateCase(kind, 2024, i);
        const out = await runCase(kind, c.bytes, i);
        if (out.status === 'fail') failures.push(`case ${i} (${c.from}; ${c.mutations.join('; ')}): ${out.reason}`);
        codes.set(describeOutcome(out), (codes.get(describeOutcome(out)) ?? 0) + 1);
      }
      expect(failures).toEqual([]);
      // the mutations reach past the first check: several distinct outcomes, some inputs still work
      expect(codes.size).toBeGreaterThanOrEqual(kind === 'model' ? 6 : 2);
      expect(codes.get('ok') ?? 0).toBeGreaterThan(0);
      for (const k of codes.keys()) if (k !== 'ok') expect(KNOWN_CODES).toContain(k);
    });
  }

  test('a case is a pure function of (kind, seed, index)', () => {
    for (const kind of ['model', 'image'] as const) {
      const a = generateCase(kind, 7, 123), b = generateCase(kind, 7, 123), c = generateCase(kind, 7, 124);
      expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
      expect(a.mutations).toEqual(b.mutations);
      expect(Buffer.from(a.bytes).equals(Buffer.from(c.bytes)) && a.mutations.join() === c.mutations.join()).toBe(false);
    }
  });
});

// --- the limits these findings led to ---------------------------------------------------------------------------

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (e instanceof VitguardError) return e.code;
    throw e;
  }
  return 'resolved';
}

function modelOf(config: ViTConfig, cropPct = 1): Uint8Array {
  return writeSafetensors(randomCheckpoint(config, 1), encodeMeta({
    arch: 'limit_test', config, labels: Array.from({ length: config.numClasses }, (_, i) => `c${i}`),
    preprocessing: { mean: Array(config.inChans).fill(0.5), std: Array(config.inChans).fill(0.5), cropPct, interpolation: 'bilinear' },
    scheme: { name: 'fp32' }, extra: {},
  }));
}

const TINY: ViTConfig = { imgSize: 16, patch: 4, inChans: 1, dim: 8, depth: 1, heads: 1, mlpHidden: 8, numClasses: 2, distilled: false, layerScale: false, noEmbedClass: false, eps: 1e-6 };

describe('limits', () => {
  test('a header of a million tiny JSON tokens is refused before it is parsed (E_FILE_HEADER)', () => {
    const entries = Array.from({ length: Math.ceil(MAX_HEADER_TOKENS / 8) }, (_, i) => `"t${i}":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}`);
    const json = new TextEncoder().encode(`{${entries.join(',')}}`);
    const file = new Uint8Array(8 + json.length);
    new DataView(file.buffer).setUint32(0, json.length, true);
    file.set(json, 8);
    const t0 = performance.now();
    let err: unknown;
    try { readSafetensors(file); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(VitguardError);
    expect((err as VitguardError).code).toBe('E_FILE_HEADER');
    expect((err as VitguardError).message).toMatch(/structure characters/);
    expect(performance.now() - t0).toBeLessThan(5000); // one linear scan, not a parse (a loose bound: the machine is shared)
  });

  test('metadata config / preprocessing / scheme that are JSON null, arrays or numbers are E_METADATA', async () => {
    const good = modelOf(TINY);
    const f = readSafetensors(good);
    for (const key of ['config', 'preprocessing', 'scheme']) {
      for (const v of ['null', '[]', '7']) {
        expect(await codeOf(Classifier.create(writeSafetensors(f.tensors, { ...f.metadata, [key]: v }))), `${key}=${v}`).toBe('E_METADATA');
      }
    }
    expect(await codeOf(Classifier.create(writeSafetensors(f.tensors, { ...f.metadata, scheme: '{"name":5}' })))).toBe('E_METADATA');
  });

  test('a small file whose config asks for gigabytes (16,385 tokens over width 8) is E_MODEL_TOO_LARGE before allocating', async () => {
    const bomb = modelOf({ ...TINY, imgSize: 1024, patch: 8 }); // attention alone: 16385² floats = 1 GiB
    expect(bomb.length).toBeLessThan(600_000);
    expect(await codeOf(Engine.create(bomb))).toBe('E_MODEL_TOO_LARGE');
    // a lower limit refuses smaller plans; a model under it loads and its memory stays under it
    expect(await codeOf(Classifier.create(modelOf({ ...TINY, imgSize: 256, patch: 4 }), { maxMemoryBytes: 16 * 2 ** 20 }))).toBe('E_MODEL_TOO_LARGE');
    const ok = await Classifier.create(modelOf(TINY), { maxMemoryBytes: 16 * 2 ** 20 });
    expect(ok.info().memoryBytes).toBeLessThanOrEqual(16 * 2 ** 20);
    ok.dispose();
    expect(await codeOf(Engine.create(modelOf(TINY), { maxMemoryBytes: -1 }))).toBe('E_INPUT');
  });

  test('cropPct 0.01 (every image resized 100× the input size) counts against the limit: E_MODEL_TOO_LARGE', async () => {
    expect(await codeOf(Classifier.create(modelOf({ ...TINY, imgSize: 224, patch: 32, inChans: 3 }, 0.01)))).toBe('E_MODEL_TOO_LARGE');
    expect(await codeOf(Classifier.create(modelOf({ ...TINY, imgSize: 48, patch: 16 }, 0.01), { maxMemoryBytes: FUZZ_MODEL_MEMORY_BYTES }))).toBe('resolved');
  });

  test('per-layer attention maps are bounded by the same limit', async () => {
    const engine = await Engine.create(modelOf({ ...TINY, imgSize: 128, patch: 4 }), { maxMemoryBytes: 16 * 2 ** 20 }); // T = 1025: 4.2 MB per map
    const chw = new Float32Array(128 * 128);
    expect(engine.forward(chw, { attention: true }).attention![0].length).toBe(1025 * 1025);
    expect(await codeOf(() => engine.forwardBatch(new Float32Array(4 * 128 * 128), 4, { attention: true }))).toBe('E_MODEL_TOO_LARGE');
    expect(engine.forward(chw).logits.length).toBe(2); // and it still works
  });

  test('a 12 MP progressive JPEG with a 26-byte scan repeated 1,000 times (250 KB, 5 s to decode) is refused: E_IMAGE', async () => {
    const segs = parseJpeg(new Uint8Array(readFileSync(join(ROOT, 'test', 'fixtures', 'images', 'phone-4000x3000-progressive.jpg'))))!;
    const scans = segs.map((x, i) => (x.marker === 0xda ? i : -1)).filter((i) => i >= 0);
    const short = scans.reduce((a, b) => (segs[b].scan!.length < segs[a].scan!.length ? b : a));
    segs.splice(short + 1, 0, ...Array.from({ length: 1000 }, () => ({ ...segs[short] })));
    const bytes = writeJpeg(segs);
    expect(bytes.length).toBeLessThan(300_000);
    for (const index of [0, 1]) {
      const t0 = performance.now();
      const out = await runCase('image', bytes, index);
      expect(out).toEqual({ status: 'error', code: 'E_IMAGE' });
      expect(performance.now() - t0).toBeLessThan(3000); // refused after MAX_JPEG_SCANS passes, not 1,010 (a loose bound)
    }
  });

  test('shipped models load under the default limit with room to spare', async () => {
    for (const f of ['fmnist-deit3', 'fmnist-deit-w4a8']) {
      const c = await Classifier.create(readModel(new Uint8Array(readFileSync(join(ROOT, 'models', `${f}.safetensors`)))));
      expect(c.info().memoryBytes).toBeLessThan(64 * 2 ** 20);
      c.dispose();
    }
  });
});
