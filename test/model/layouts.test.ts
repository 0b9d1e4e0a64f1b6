// `convert DIR`: model folders in the layouts people download. Random weights under each library's own tensor names
// (transformers: test/oracle/transformers-reference.ts; timm: sdk/model/random.ts), converted, then run by the engine
// and compared with a float64 forward that reads the original names: max |Δ| ≤ 1e-4 · max |value|.

import { describe, expect, it } from 'vitest';
import { Engine } from '../../sdk/engine/index.js';
import { VitguardError } from '../../sdk/errors.js';
import type { ViTConfig } from '../../sdk/format/model.js';
import { writeSafetensors } from '../../sdk/format/safetensors.js';
import { convertCheckpoint, type Converted } from '../../sdk/model/convert.js';
import { randomCheckpoint } from '../../sdk/model/random.js';
import { maxRelErr as relErr, randomF32 } from '../kernels/helpers.js';
import { referenceForward } from '../oracle/js-reference.js';
import { hfConfigJson, randomHfCheckpoint, transformersForward, type HfConfig } from '../oracle/transformers-reference.js';

function errOf(fn: () => unknown): VitguardError {
  try { fn(); } catch (e) { expect(e).toBeInstanceOf(VitguardError); return e as VitguardError; }
  throw new Error('expected a VitguardError');
}

const sourceOf = (out: Converted, key: string) => out.values.find((v) => v.key === key)?.source;

const HF_VIT: HfConfig = { cls: 'ViTForImageClassification', hidden: 32, layers: 2, heads: 4, intermediate: 64, imageSize: 16, patch: 4, channels: 3, classes: 5, eps: 1e-12, qkvBias: true };
const HF_DEIT: HfConfig = { cls: 'DeiTForImageClassificationWithTeacher', hidden: 48, layers: 2, heads: 3, intermediate: 96, imageSize: 20, patch: 5, channels: 3, classes: 4, eps: 1e-12, qkvBias: false };
const HF_DEIT_NO_TEACHER: HfConfig = { ...HF_DEIT, cls: 'DeiTForImageClassification', qkvBias: true };
const labelsFor = (n: number) => Array.from({ length: n }, (_, i) => `thing ${i}`);

/** preprocessor_config.json as ViTImageProcessor (squash to size, no crop) or DeiTImageProcessor (resize + crop) save it. */
function preprocessorJson(c: HfConfig): string {
  return c.cls === 'ViTForImageClassification'
    ? JSON.stringify({ do_normalize: true, do_rescale: true, do_resize: true, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5], image_processor_type: 'ViTImageProcessor', resample: 2, rescale_factor: 0.00392156862745098, size: { height: c.imageSize, width: c.imageSize } })
    : JSON.stringify({ crop_size: { height: c.imageSize, width: c.imageSize }, do_center_crop: true, do_normalize: true, do_rescale: true, do_resize: true, image_mean: [0.485, 0.456, 0.406], image_std: [0.229, 0.224, 0.225], image_processor_type: 'DeiTImageProcessor', resample: 3, rescale_factor: 0.00392156862745098, size: { height: 24, width: 24 } });
}

async function expectEngineMatches(out: Converted, ref: (img: Float32Array) => { logits: ArrayLike<number>; feature: ArrayLike<number> }): Promise<void> {
  const c = out.meta.config;
  const engine = await Engine.create(out.bytes, { wasm: 'simd' });
  try {
    for (const seed of [3, 4]) {
      const img = randomF32(c.inChans * c.imgSize ** 2, seed, -2, 2);
      const got = engine.forward(img);
      const want = ref(img);
      expect(Math.max(...Array.from(want.logits, Math.abs))).toBeGreaterThan(0.05); // not a vacuous comparison
      expect(relErr(got.logits, want.logits)).toBeLessThan(1e-4);
      expect(relErr(got.feature, want.feature)).toBeLessThan(1e-4);
    }
  } finally {
    engine.dispose();
  }
}

describe('transformers folders (model.safetensors + config.json + preprocessor_config.json)', () => {
  for (const hf of [HF_VIT, HF_DEIT, HF_DEIT_NO_TEACHER]) {
    it(`${hf.cls}${hf.qkvBias ? '' : ' (qkv_bias false)'}: config from the JSON files, engine = transformers forward (1e-4)`, async () => {
      const tensors = randomHfCheckpoint(hf, 5);
      const out = convertCheckpoint(writeSafetensors(tensors, { format: 'pt' }), {}, { config: hfConfigJson(hf, labelsFor(hf.classes)), preprocessor: preprocessorJson(hf) });
      const c = out.meta.config;
      expect(out.layout).toBe('transformers');
      expect(c).toMatchObject({ dim: hf.hidden, depth: hf.layers, heads: hf.heads, mlpHidden: hf.intermediate, imgSize: hf.imageSize, patch: hf.patch, numClasses: hf.classes, eps: hf.eps, distilled: hf.cls.endsWith('WithTeacher'), noEmbedClass: false, layerScale: false });
      // without its teacher head, DeiT's distillation token is one more attended prefix token: a register
      expect(c.regTokens).toBe(hf.cls === 'DeiTForImageClassification' ? 1 : undefined);
      expect(sourceOf(out, 'config.heads')).toBe('config.json');
      expect(sourceOf(out, 'config.eps')).toBe('config.json');
      expect(sourceOf(out, 'labels')).toBe('config.json');
      expect(sourceOf(out, 'preprocessing.mean')).toBe('preprocessor_config.json');
      expect(out.meta.labels).toEqual(labelsFor(hf.classes));
      if (hf.cls === 'ViTForImageClassification') {
        expect(out.meta.preprocessing).toEqual({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], cropPct: 1, interpolation: 'bilinear' });
        expect(out.notes.join(' ')).toMatch(/aspect ratio/);
      } else {
        expect(out.meta.preprocessing).toMatchObject({ std: [0.229, 0.224, 0.225], interpolation: 'bicubic' });
        expect(out.meta.preprocessing.cropPct).toBeCloseTo(20 / 24, 12);
      }
      await expectEngineMatches(out, (img) => transformersForward(tensors, hf, img));
    });
  }

  it('recognises transformers tensor names without the JSON files, and then asks for what they would have said', () => {
    const tensors = randomHfCheckpoint(HF_VIT, 6);
    const e = errOf(() => convertCheckpoint(writeSafetensors(tensors)));
    expect(e.code).toBe('E_CONFIG_MISSING');
    expect(e.message).toContain('--heads');
    const out = convertCheckpoint(writeSafetensors(tensors), { heads: 4, eps: 1e-12, mean: [0.5], std: [0.5], cropPct: 1, interpolation: 'bilinear' });
    expect(out.layout).toBe('transformers');
    expect(out.meta.config.heads).toBe(4);
  });

  it('flags override the files; files that contradict the tensors, unknown activations and resampling are refused', () => {
    const tensors = writeSafetensors(randomHfCheckpoint(HF_VIT, 7));
    const cfg = JSON.parse(hfConfigJson(HF_VIT, labelsFor(5)));
    const files = { config: JSON.stringify(cfg), preprocessor: preprocessorJson(HF_VIT) };
    const out = convertCheckpoint(tensors, { cropPct: 0.875, interpolation: 'bicubic', labels: labelsFor(5).map((l) => l.toUpperCase()) }, files);
    expect(out.meta.preprocessing).toMatchObject({ cropPct: 0.875, interpolation: 'bicubic' });
    expect(sourceOf(out, 'preprocessing.cropPct')).toBe('flag');
    expect(out.meta.labels[0]).toBe('THING 0');

    expect(errOf(() => convertCheckpoint(tensors, {}, { ...files, config: JSON.stringify({ ...cfg, hidden_size: 64 }) })).message).toMatch(/hidden_size.*64.*32/);
    expect(errOf(() => convertCheckpoint(tensors, {}, { ...files, config: JSON.stringify({ ...cfg, hidden_act: 'gelu_new' }) })).code).toBe('E_UNKNOWN_ARCH');
    expect(errOf(() => convertCheckpoint(tensors, {}, { ...files, config: JSON.stringify({ ...cfg, architectures: ['ViTModel'] }) })).code).toBe('E_UNKNOWN_ARCH');
    const nearest = JSON.stringify({ ...JSON.parse(files.preprocessor), resample: 0 });
    const e = errOf(() => convertCheckpoint(tensors, {}, { ...files, preprocessor: nearest }));
    expect(e.code).toBe('E_METADATA');
    expect(e.message).toMatch(/resample.*nearest.*--interpolation/);
    expect(convertCheckpoint(tensors, { interpolation: 'bilinear' }, { ...files, preprocessor: nearest }).meta.preprocessing.interpolation).toBe('bilinear');
    expect(errOf(() => convertCheckpoint(tensors, {}, { ...files, config: '{not json' })).code).toBe('E_METADATA');
  });
});

describe('timm hub folders (model.safetensors + config.json with architecture and pretrained_cfg)', () => {
  const config: ViTConfig = { imgSize: 16, patch: 4, inChans: 3, dim: 32, depth: 2, heads: 4, mlpHidden: 64, numClasses: 6, distilled: false, layerScale: true, noEmbedClass: true, eps: 1e-6 };
  const hub = {
    architecture: 'deit3_small_patch16_224', num_classes: 6, num_features: 32,
    label_names: ['a', 'b', 'c', 'd', 'e', 'f'],
    model_args: { embed_dim: 32, depth: 2, num_heads: 4, mlp_ratio: 2, img_size: 16, patch_size: 4 },
    pretrained_cfg: { tag: 'random', input_size: [3, 16, 16], fixed_input_size: true, interpolation: 'bilinear', crop_pct: 0.95, crop_mode: 'center', mean: [0.4, 0.4, 0.4], std: [0.2, 0.2, 0.2], num_classes: 6, pool_size: null, first_conv: 'patch_embed.proj', classifier: 'head' },
  };

  it('arch, heads (model_args), labels and preprocessing (pretrained_cfg) from config.json; engine = float64 reference', async () => {
    const tensors = randomCheckpoint(config, 8);
    const out = convertCheckpoint(writeSafetensors(tensors), {}, { config: JSON.stringify(hub) });
    expect(out.layout).toBe('timm hub');
    expect(out.meta.arch).toBe('deit3_small_patch16_224');
    expect(out.meta.config).toEqual(config);
    expect(out.meta.labels).toEqual(hub.label_names);
    expect(out.meta.preprocessing).toEqual({ mean: [0.4, 0.4, 0.4], std: [0.2, 0.2, 0.2], cropPct: 0.95, interpolation: 'bilinear' });
    expect(sourceOf(out, 'arch')).toBe('config.json');
    expect(sourceOf(out, 'config.heads')).toBe('config.json'); // model_args beat the name's 6 heads
    expect(sourceOf(out, 'config.eps')).toBe('arch name');
    expect(sourceOf(out, 'preprocessing.cropPct')).toBe('config.json');
    await expectEngineMatches(out, (img) => referenceForward(tensors, config, img));
  });

  it('the legacy flat config (pretrained_cfg keys beside architecture, labels as {id: name}) and a wrong input size', () => {
    const tensors = writeSafetensors(randomCheckpoint(config, 9));
    const { pretrained_cfg: pre, model_args: args, label_names: names, ...top } = hub;
    const flat = { ...top, ...pre, model_args: args, labels: Object.fromEntries(names.map((n, i) => [String(i), n])) };
    const out = convertCheckpoint(tensors, {}, { config: JSON.stringify(flat) });
    expect(out.meta.labels).toEqual(names);
    expect(out.meta.preprocessing.cropPct).toBe(0.95);
    const e = errOf(() => convertCheckpoint(tensors, {}, { config: JSON.stringify({ ...hub, pretrained_cfg: { ...hub.pretrained_cfg, input_size: [3, 24, 24] } }) }));
    expect(e.message).toMatch(/image side 24.*16/);
  });

  it('a register model: model_args.no_embed_class settles a pos_embed that fits two grids; model_args must agree with the tensors', () => {
    // class token + 4 registers, 9 pos_embed rows: 3² patches without prefix rows, or 2² + 5
    const reg: ViTConfig = { ...config, imgSize: 12, layerScale: false, regTokens: 4, noEmbedClass: true };
    const bytes = writeSafetensors(randomCheckpoint(reg, 10));
    const cfg = { architecture: 'vit_small_patch16_224', num_classes: 6, model_args: { embed_dim: 32, depth: 2, num_heads: 4, reg_tokens: 4, no_embed_class: true }, pretrained_cfg: { mean: [0.5], std: [0.5], crop_pct: 1, interpolation: 'bicubic' } };
    const out = convertCheckpoint(bytes, {}, { config: JSON.stringify(cfg) });
    expect(out.meta.config).toEqual(reg);
    expect(sourceOf(out, 'config.noEmbedClass')).toBe('config.json');
    expect(errOf(() => convertCheckpoint(bytes, {}, { config: JSON.stringify({ ...cfg, model_args: { ...cfg.model_args, reg_tokens: 1 } }) })).message).toMatch(/reg_tokens 1 but the tensors have 4/);
  });
});
