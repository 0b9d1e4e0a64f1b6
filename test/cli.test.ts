// The CLI's jobs end to end, called in-process through main() (same code as bin/vitguard.js).
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../sdk/cli/main.js';
import { readModel } from '../sdk/format/model.js';
import { VitguardError } from '../sdk/errors.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FMNIST = resolve(root, 'test/fixtures/data/fashion-mnist');
let out: string[] = [];
beforeEach(() => {
  out = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { out.push(a.join(' ')); });
});
afterEach(() => vi.restoreAllMocks());

describe('vitguard CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vitguard-cli-'));

  it('random-model → convert → classify --json', async () => {
    const ckpt = join(dir, 'tiny.timm.safetensors');
    const model = join(dir, 'tiny.safetensors');
    expect(await main(['random-model', '--arch', 'deit_tiny_distilled_patch16_224', '--seed', '3', '-o', ckpt])).toBe(0);
    expect(await main(['convert', ckpt, '-o', model])).toBe(0);
    expect(out.join('\n')).toMatch(/config\.heads\s+3\s+\(arch name\)/); // every value is listed with its source
    const meta = readModel(readFileSync(model)).meta;
    expect(meta.config.distilled).toBe(true);
    expect(meta.preprocessing.cropPct).toBe(0.9);
    out = [];
    expect(await main(['classify', model, join(root, 'demos/samples/cifar10-horse-7000.png'), '--top', '3', '--json', '--wasm', 'simd'])).toBe(0);
    const r = JSON.parse(out[0]);
    expect(r.wasm).toBe('simd');
    expect(r.results).toHaveLength(1);
    expect(r.results[0].top).toHaveLength(3);
    expect(r.results[0].logits).toHaveLength(1000);
    const p = r.results[0].top.map((t: { prob: number }) => t.prob);
    expect(p[0]).toBeGreaterThanOrEqual(p[1]);
  }, 120_000);

  it('convert never guesses the head count: without one it names --heads; --json lists every value with its source', async () => {
    const ckpt = join(dir, 'nameless.timm.safetensors');
    expect(await main(['random-model', '--arch', 'deit_tiny_patch16_224', '--seed', '4', '-o', ckpt])).toBe(0);
    // the same tensors without the arch name in their metadata: shapes alone cannot tell heads, eps or preprocessing
    const { readSafetensors, writeSafetensors } = await import('../sdk/format/safetensors.js');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(ckpt, writeSafetensors(readSafetensors(readFileSync(ckpt)).tensors));
    const model = join(dir, 'nameless.safetensors');
    await expect(main(['convert', ckpt, '-o', model])).rejects.toMatchObject({ code: 'E_CONFIG_MISSING', message: expect.stringContaining('--heads') });
    expect(existsSync(model)).toBe(false);
    out = [];
    expect(await main(['convert', ckpt, '-o', model, '--heads', '3', '--eps', '1e-6', '--mean', '0.5', '--std', '0.5', '--crop-pct', '0.9', '--interpolation', 'bicubic', '--json'])).toBe(0);
    const r = JSON.parse(out[0]);
    const src = Object.fromEntries(r.values.map((v: { key: string; source: string }) => [v.key, v.source]));
    expect(src).toMatchObject({ 'config.heads': 'flag', 'config.eps': 'flag', 'config.dim': 'shape', 'preprocessing.mean': 'flag', labels: 'default' });
    expect(readModel(readFileSync(model)).meta.config.heads).toBe(3);
  }, 60_000);

  it('convert DIR reads a transformers folder (config.json + preprocessor_config.json); a folder without safetensors is refused', async () => {
    const { hfConfigJson, randomHfCheckpoint } = await import('./oracle/transformers-reference.js');
    const { writeSafetensors } = await import('../sdk/format/safetensors.js');
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const hf = { cls: 'ViTForImageClassification', hidden: 24, layers: 1, heads: 2, intermediate: 48, imageSize: 8, patch: 4, channels: 3, classes: 3, eps: 1e-12, qkvBias: true } as const;
    const folder = join(dir, 'hf-vit');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'model.safetensors'), writeSafetensors(randomHfCheckpoint(hf, 2), { format: 'pt' }));
    writeFileSync(join(folder, 'config.json'), hfConfigJson(hf, ['cat', 'dog', 'bird']));
    writeFileSync(join(folder, 'preprocessor_config.json'), JSON.stringify({ do_resize: true, size: { height: 8, width: 8 }, resample: 2, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] }));
    const model = join(dir, 'hf-vit.safetensors');
    out = [];
    expect(await main(['convert', folder, '-o', model, '--json'])).toBe(0);
    const r = JSON.parse(out[0]);
    expect(r.layout).toBe('transformers');
    expect(r.values).toContainEqual({ key: 'config.heads', value: 2, source: 'config.json' });
    expect(r.values).toContainEqual({ key: 'preprocessing.interpolation', value: 'bilinear', source: 'preprocessor_config.json' });
    expect(readModel(readFileSync(model)).meta.labels).toEqual(['cat', 'dog', 'bird']);
    const pickle = join(dir, 'hf-pickle');
    mkdirSync(pickle, { recursive: true });
    writeFileSync(join(pickle, 'pytorch_model.bin'), 'not read');
    await expect(main(['convert', pickle, '-o', join(dir, 'x.safetensors')])).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('safetensors') });
  });

  it('classifies the samples with a shipped model and prints a readable verdict', async () => {
    expect(await main(['classify', resolve(root, 'models/fmnist-vit.safetensors'), join(root, 'demos/samples/fmnist-Trouser-2.png')])).toBe(0);
    expect(out[1]).toMatch(/%\s+Trouser/);
    expect(out.join('\n')).toMatch(/OOD|in-distribution/);
  });

  // vitest.config.ts pins VITGUARD_FMNIST (and the other data roots) to test/fixtures/data for the whole run
  it('the data roots are the fixtures', () => {
    expect(resolve(process.env.VITGUARD_FMNIST ?? '')).toBe(FMNIST);
    expect(resolve(process.env.VITGUARD_DATA ?? '')).toBe(dirname(FMNIST));
  });

  it('accuracy --json on the Fashion-MNIST fixture', async () => {
    expect(await main(['accuracy', resolve(root, 'models/fmnist-deit.safetensors'), '--data', 'fashion-mnist:test:100', '--json'])).toBe(0);
    const r = JSON.parse(out[0]);
    expect(r).toMatchObject({ data: 'fashion-mnist:test:100', n: 100, scheme: 'fp32' });
    expect(r.top1).toBeGreaterThan(0.85);
  });

  it('quantize writes a smaller model, and a bad scheme leaves no file behind', async () => {
    const q = join(dir, 'w8.safetensors');
    expect(await main(['quantize', resolve(root, 'models/fmnist-vit.safetensors'), '-o', q, '--scheme', 'w8a8'])).toBe(0);
    expect(readModel(readFileSync(q)).meta.scheme.name).toBe('w8a8');
    const bad = join(dir, 'bad.safetensors');
    await expect(main(['quantize', resolve(root, 'models/fmnist-vit.safetensors'), '-o', bad, '--scheme', 'w5a5'])).rejects.toThrow(VitguardError);
    await expect(main(['quantize', resolve(root, 'models/fmnist-vit.safetensors'), '-o', bad, '--scheme', 'w4a8', '--group', '40'])).rejects.toThrow(/group/);
    expect(existsSync(bad)).toBe(false);
  });

  it('quantize --calib stores static activation scales; an empty or wrong-channel calibration set is refused', async () => {
    const q = join(dir, 'w8-static.safetensors');
    expect(await main(['quantize', resolve(root, 'models/fmnist-deit3.safetensors'), '-o', q, '--scheme', 'w8a8', '--calib', 'fashion-mnist:train:32'])).toBe(0);
    const m = readModel(readFileSync(q));
    expect(m.meta.scheme).toMatchObject({ name: 'w8a8', act: 'static' });
    const s = m.tensors.get('blocks.0.mlp.fc2.act_scale')!;
    const scale = new Float32Array(s.bytes.slice().buffer)[0];
    expect(scale).toBeGreaterThan(0);
    out = [];
    expect(await main(['accuracy', q, '--data', 'fashion-mnist:test:100', '--json'])).toBe(0);
    expect(JSON.parse(out[0]).top1).toBeGreaterThan(0.85);
    const bad = join(dir, 'calib-bad.safetensors');
    const empty = mkdtempSync(join(tmpdir(), 'vitguard-empty-'));
    await expect(main(['quantize', resolve(root, 'models/fmnist-vit.safetensors'), '-o', bad, '--scheme', 'w8a8', '--calib', `folder:${empty}`])).rejects.toMatchObject({ code: 'E_DATA', message: expect.stringMatching(/empty/) });
    await expect(main(['quantize', resolve(root, 'models/fmnist-vit.safetensors'), '-o', bad, '--scheme', 'w8a8', '--calib', 'cifar10:test:4'])).rejects.toMatchObject({ code: 'E_DATA', message: expect.stringMatching(/3-channel images but the model takes 1-channel/) });
    await expect(main(['quantize', resolve(root, 'models/fmnist-vit.safetensors'), '-o', bad, '--scheme', 'w4a16', '--calib', 'fashion-mnist:train:4'])).rejects.toMatchObject({ code: 'E_SCHEME' });
    expect(existsSync(bad)).toBe(false);
  });

  it('demo (npm start): every sample classified with a verdict from the shipped detector, and a tally', async () => {
    expect(await main(['demo'])).toBe(0);
    const rows = out.filter((l) => /\.png\s/.test(l));
    expect(rows).toHaveLength(15);
    for (const r of rows) expect(r).toMatch(/(OUT-OF-DISTRIBUTION|in-distribution): mahalanobis -?\d/);
    expect(rows.find((r) => r.startsWith('fmnist-Trouser-2.png'))).toMatch(/Trouser \d+%\s+in-distribution/);
    expect(out.at(-1)).toMatch(/accepted \d of 8 Fashion-MNIST images and flagged \d of 7/);
  });

  it('rejects unknown commands and options with usage', async () => {
    await expect(main(['frobnicate'])).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(main(['classify', '--nope'])).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});
