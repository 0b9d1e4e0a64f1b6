// Parity of the engine with an independent implementation: the same random weights as an ONNX graph
// (test/oracle/onnx-vit.ts) run by onnxruntime-web. For deit_tiny, deit_tiny_distilled and deit3_small at 224×224,
// deit_tiny with 4 registers, and timm's vit_little_patch16_reg4_gap_256 (no class token, 4 registers, average-pooled
// head with fc_norm) at 256×256, on both wasm builds: max |Δlogit| ≤ 1e-3 · max |logit|, the same top-1,
// max |Δfeature| ≤ 1e-3 · max |feature|.
// The simd build runs in this process; the relaxed build in a child Node process with
// --experimental-wasm-relaxed-simd --no-liftoff (Node 20 needs both: FACTS.md), started at once so that it overlaps
// with the onnxruntime-web runs here.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModel } from '../../sdk/format/model.js';
import { buildVitOnnx } from '../oracle/onnx-vit.js';
import { createOrtSession } from '../oracle/ort.js';
import { maxAbs, maxAbsDiff } from '../kernels/helpers.js';
import { PARITY_ARCHS, parityModel, type ParityModel } from './models.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Outputs { logits: ArrayLike<number>; feature: ArrayLike<number> }

function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

/** Assert the parity bounds; returns the relative errors for the failure message and the log. */
function expectParity(got: Outputs, want: Outputs, what: string): { logits: number; feature: number } {
  expect(got.logits.length, `${what}: logits length`).toBe(want.logits.length);
  expect(got.feature.length, `${what}: feature length`).toBe(want.feature.length);
  const rel = { logits: maxAbsDiff(got.logits, want.logits) / maxAbs(want.logits), feature: maxAbsDiff(got.feature, want.feature) / maxAbs(want.feature) };
  expect(rel.logits, `${what}: max|Δlogit| / max|logit|`).toBeLessThanOrEqual(1e-3);
  expect(rel.feature, `${what}: max|Δfeature| / max|feature|`).toBeLessThanOrEqual(1e-3);
  expect(argmax(got.logits), `${what}: top-1`).toBe(argmax(want.logits));
  return rel;
}

/** The engine's outputs on the relaxed build, from a child process with the V8 flags Node 20 needs. */
function relaxedChild(): Promise<Record<string, Outputs>> {
  const args = ['--experimental-wasm-relaxed-simd', '--no-liftoff', '--import', './test/parity/ts-register.mjs', 'test/parity/engine-child.ts', 'relaxed'];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`relaxed child (node ${args.join(' ')}) exited ${code}:\n${err.slice(-2000)}`));
      try { resolve(JSON.parse(out.trim().split('\n').pop()!) as Record<string, Outputs>); } catch (e) { reject(e); }
    });
  });
}

describe('engine parity with onnxruntime-web (random weights, real shapes)', () => {
  const models = new Map<string, ParityModel>();
  const ort = new Map<string, Outputs>();
  let relaxed: Promise<Record<string, Outputs>>;

  beforeAll(async () => {
    relaxed = relaxedChild();
    relaxed.catch(() => {}); // reported by the relaxed test, not as an unhandled rejection here
    for (const arch of PARITY_ARCHS) {
      const m = parityModel(arch);
      models.set(arch, m);
      const c = m.config;
      const session = await createOrtSession(buildVitOnnx(m.tensors, c), [c.inChans, c.imgSize, c.imgSize]);
      ort.set(arch, await session.run(m.pixels));
      await session.release();
    }
  });

  afterAll(() => { models.clear(); });

  it.each(PARITY_ARCHS)('simd build, %s: logits, top-1 and feature agree', async (arch) => {
    const { Engine } = await import('../../sdk/engine/index.js');
    const m = models.get(arch)!;
    const engine = await Engine.create(readModel(m.file), { wasm: 'simd' });
    try {
      const rel = expectParity(engine.forward(m.pixels), ort.get(arch)!, `${arch} simd`);
      console.log(`parity ${arch} simd: logits ${rel.logits.toExponential(2)}, feature ${rel.feature.toExponential(2)}`);
    } finally {
      engine.dispose();
    }
  });

  it('relaxed build (child process, --experimental-wasm-relaxed-simd --no-liftoff): every model agrees', async () => {
    const outs = await relaxed;
    for (const arch of PARITY_ARCHS) {
      expect(outs[arch], `relaxed child returned no output for ${arch}`).toBeDefined();
      const rel = expectParity(outs[arch], ort.get(arch)!, `${arch} relaxed`);
      console.log(`parity ${arch} relaxed: logits ${rel.logits.toExponential(2)}, feature ${rel.feature.toExponential(2)}`);
    }
  });
});

describe('parity harness', () => {
  it('builds the same model and input in every process (seeded)', () => {
    const a = parityModel('deit_tiny_patch16_224');
    const b = parityModel('deit_tiny_patch16_224');
    expect(a.file.byteLength).toBe(b.file.byteLength);
    expect(Buffer.compare(Buffer.from(a.file), Buffer.from(b.file))).toBe(0);
    expect(a.pixels).toEqual(b.pixels);
    expect(maxAbs(a.pixels)).toBeGreaterThan(1); // not a blank image
  });
});
