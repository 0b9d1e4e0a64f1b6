// Issue 2's bad-input list, case by case, through the classifier every front end uses: each is a typed
// VitguardError with a code and a message that says what is wrong — never a trap, a hang or a wrong answer.
import { describe, expect, it } from 'vitest';
import { Classifier } from '../sdk/classifier.js';
import { VitguardError } from '../sdk/errors.js';
import { convertCheckpoint } from '../sdk/model/convert.js';
import { randomCheckpoint } from '../sdk/model/random.js';
import { readSafetensors, toFloat32, writeSafetensors, f32Tensor } from '../sdk/format/safetensors.js';
import type { ViTConfig } from '../sdk/format/model.js';

const config: ViTConfig = {
  imgSize: 16, patch: 4, inChans: 3, dim: 24, depth: 1, heads: 2, mlpHidden: 48, numClasses: 5,
  distilled: false, layerScale: false, noEmbedClass: false, eps: 1e-6,
};
const good = convertCheckpoint(writeSafetensors(randomCheckpoint(config, 11)), { heads: 2, eps: 1e-6, mean: [0.5], std: [0.5], cropPct: 0.9, interpolation: 'bicubic' }).bytes;

async function rejects(p: Promise<unknown> | (() => unknown), code: string, text?: RegExp) {
  let err: unknown;
  try { await (typeof p === 'function' ? p() : p); } catch (e) { err = e; }
  expect(err, 'expected a VitguardError').toBeInstanceOf(VitguardError);
  expect((err as VitguardError).code).toBe(code);
  if (text) expect((err as VitguardError).message).toMatch(text);
}

/** Rewrite one tensor of the good model file. */
function withTensor(name: string, edit: (t: Float32Array) => void): Uint8Array {
  const f = readSafetensors(good);
  const data = Float32Array.from(toFloat32(f.tensors.get(name)!));
  edit(data);
  f.tensors.set(name, f32Tensor(f.tensors.get(name)!.shape, data));
  return writeSafetensors(f.tensors, f.metadata);
}

describe('bad input', () => {
  it('a truncated model file', () => rejects(Classifier.create(good.subarray(0, good.length - 100)), 'E_FILE_TRUNCATED', /truncated/));

  it('a header whose offsets overlap', async () => {
    const len = new DataView(good.buffer, good.byteOffset).getUint32(0, true);
    const header = JSON.parse(new TextDecoder().decode(good.subarray(8, 8 + len)));
    header['head.bias'].data_offsets = header['head.weight'].data_offsets.map((o: number) => o); // same bytes twice
    header['head.bias'].shape = [header['head.weight'].shape[0] * header['head.weight'].shape[1]];
    const json = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + json.length + good.length - 8 - len);
    new DataView(out.buffer).setUint32(0, json.length, true);
    out.set(json, 8);
    out.set(good.subarray(8 + len), 8 + json.length);
    await rejects(Classifier.create(out), 'E_FILE_HEADER', /overlap/);
  });

  it('a dtype or shape that does not match the config', async () => {
    const f = readSafetensors(good);
    f.tensors.set('blocks.0.mlp.fc1.bias', f32Tensor([47], new Float32Array(47)));
    await rejects(Classifier.create(writeSafetensors(f.tensors, f.metadata)), 'E_TENSOR_SHAPE', /blocks\.0\.mlp\.fc1\.bias/);
    const g = readSafetensors(good);
    g.tensors.set('norm.weight', { dtype: 'I32', shape: [24], bytes: new Uint8Array(96) });
    await rejects(Classifier.create(writeSafetensors(g.tensors, g.metadata)), 'E_TENSOR_SHAPE', /norm\.weight/);
  });

  it('NaN or Inf in weights', async () => {
    await rejects(Classifier.create(withTensor('blocks.0.attn.qkv.weight', (t) => { t[3] = NaN; })), 'E_NONFINITE', /blocks\.0\.attn\.qkv\.weight/);
    await rejects(Classifier.create(withTensor('pos_embed', (t) => { t[0] = Infinity; })), 'E_NONFINITE', /pos_embed/);
  });

  it('NaN or Inf in pixels', async () => {
    const clf = await Classifier.create(good);
    const chw = new Float32Array(3 * 16 * 16);
    chw[100] = NaN;
    await rejects(() => clf.classify({ chw }), 'E_NONFINITE');
    chw[100] = -Infinity;
    await rejects(() => clf.classify({ chw }), 'E_NONFINITE');
    expect(clf.classify({ chw: new Float32Array(3 * 16 * 16) }).top.length).toBe(5); // and it still works
    clf.dispose();
  });

  it('a zero-size or 1×1 image, and bytes that are not an image', async () => {
    const clf = await Classifier.create(good);
    await rejects(() => clf.classify({ data: new Uint8Array(0), width: 0, height: 0 }), 'E_IMAGE');
    await rejects(() => clf.classify({ data: new Uint8Array(4), width: 1, height: 1 }), 'E_IMAGE');
    await rejects(() => clf.classify(new TextEncoder().encode('not an image at all')), 'E_IMAGE');
    await rejects(() => clf.classify(new Uint8Array(0)), 'E_IMAGE');
    clf.dispose();
  });

  it('an unknown architecture', async () => {
    await rejects(async () => convertCheckpoint(writeSafetensors(randomCheckpoint(config, 1)), { arch: 'swin_tiny_patch4_window7_224' }), 'E_UNKNOWN_ARCH', /swin_tiny/);
    const f = readSafetensors(good);
    await rejects(Classifier.create(writeSafetensors(f.tensors, { ...f.metadata, format: 'something-else' })), 'E_METADATA');
  });
});
