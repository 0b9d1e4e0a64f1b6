// Hugging Face transformers checkpoints in the tests: random weights under transformers' own tensor names, and a
// float64 forward that reads those names the way modeling_vit.py / modeling_deit.py use them (ViTEmbeddings: cat
// cls (+ distillation) with the patch embeddings, add position_embeddings; ViTLayer: layernorm_before → separate
// query / key / value Linears → attention.output.dense → residual → layernorm_after → intermediate.dense → GELU →
// output.dense → residual; the final layernorm; classifier on token 0, or DeiT WithTeacher's mean of cls_classifier
// (token 0) and distillation_classifier (token 1)). It shares no code with convert's name mapping, so a mapping
// that swapped query and key, or layernorm_before and _after, would disagree with it.

import { f32Tensor, toFloat32, type Tensor } from '../../sdk/format/safetensors.js';
import { gaussian, mulberry32 } from '../../sdk/model/random.js';
import { gelu, layerNorm, linear } from './js-reference.js';

export interface HfConfig {
  cls: 'ViTForImageClassification' | 'DeiTForImageClassificationWithTeacher' | 'DeiTForImageClassification';
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  imageSize: number;
  patch: number;
  channels: number;
  classes: number;
  eps: number;
  qkvBias: boolean;
}

const base = (c: HfConfig) => (c.cls === 'ViTForImageClassification' ? 'vit.' : 'deit.');
const hasDistToken = (c: HfConfig) => c.cls !== 'ViTForImageClassification';

/** Every tensor of the transformers model with its shape (as save_pretrained writes them). */
export function hfTensorList(c: HfConfig): Array<[string, number[]]> {
  const D = c.hidden, p = base(c), e = `${p}embeddings.`;
  const n = (c.imageSize / c.patch) ** 2;
  const list: Array<[string, number[]]> = [[e + 'cls_token', [1, 1, D]]];
  if (hasDistToken(c)) list.push([e + 'distillation_token', [1, 1, D]]);
  list.push([e + 'position_embeddings', [1, n + (hasDistToken(c) ? 2 : 1), D]]);
  list.push([e + 'patch_embeddings.projection.weight', [D, c.channels, c.patch, c.patch]], [e + 'patch_embeddings.projection.bias', [D]]);
  for (let i = 0; i < c.layers; i++) {
    const l = `${p}encoder.layer.${i}.`;
    for (const q of ['query', 'key', 'value']) {
      list.push([`${l}attention.attention.${q}.weight`, [D, D]]);
      if (c.qkvBias) list.push([`${l}attention.attention.${q}.bias`, [D]]);
    }
    list.push(
      [`${l}attention.output.dense.weight`, [D, D]], [`${l}attention.output.dense.bias`, [D]],
      [`${l}intermediate.dense.weight`, [c.intermediate, D]], [`${l}intermediate.dense.bias`, [c.intermediate]],
      [`${l}output.dense.weight`, [D, c.intermediate]], [`${l}output.dense.bias`, [D]],
      [`${l}layernorm_before.weight`, [D]], [`${l}layernorm_before.bias`, [D]],
      [`${l}layernorm_after.weight`, [D]], [`${l}layernorm_after.bias`, [D]],
    );
  }
  list.push([`${p}layernorm.weight`, [D]], [`${p}layernorm.bias`, [D]]);
  const heads = c.cls === 'DeiTForImageClassificationWithTeacher' ? ['cls_classifier', 'distillation_classifier'] : ['classifier'];
  for (const h of heads) list.push([`${h}.weight`, [c.classes, D]], [`${h}.bias`, [c.classes]]);
  return list;
}

/** Seeded random weights at O(1) scale (norm gains near 1, fan-in scaled matrices), never denormal. */
export function randomHfCheckpoint(c: HfConfig, seed: number): Map<string, Tensor> {
  const randn = gaussian(mulberry32(seed));
  const out = new Map<string, Tensor>();
  for (const [name, shape] of hfTensorList(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
    const std = /layernorm.*weight$/.test(name) ? 0.1 : name.endsWith('weight') ? 1 / Math.sqrt(fanIn) : name.endsWith('bias') ? 0.05 : 0.5;
    const data = Float32Array.from({ length: n }, () => (/layernorm.*weight$/.test(name) ? 1 : 0) + std * randn());
    out.set(name, f32Tensor(shape, data));
  }
  return out;
}

/** Forward one normalised image [C,S,S] through the transformers model, in float64. */
export function transformersForward(t: Map<string, Tensor>, c: HfConfig, pixels: Float32Array): { logits: Float64Array; feature: Float64Array } {
  const get = (name: string) => {
    const x = t.get(name);
    if (!x) throw new Error(`transformers reference: no tensor ${name}`);
    return Float64Array.from(toFloat32(x));
  };
  const D = c.hidden, P = c.patch, S = c.imageSize, g = S / P, H = c.heads, hd = D / H;
  const p = base(c), e = `${p}embeddings.`;
  // patch_embeddings: Conv2d(kernel = stride = P) → flatten(2).transpose(1, 2): token (py, px) row-major
  const W = get(e + 'patch_embeddings.projection.weight'), bp = get(e + 'patch_embeddings.projection.bias');
  const patches: Float64Array[] = [];
  for (let py = 0; py < g; py++) for (let px = 0; px < g; px++) {
    const v = new Float64Array(D);
    for (let d = 0; d < D; d++) {
      let s = bp[d];
      for (let ch = 0; ch < c.channels; ch++) for (let i = 0; i < P; i++) for (let j = 0; j < P; j++) {
        s += W[((d * c.channels + ch) * P + i) * P + j] * pixels[(ch * S + py * P + i) * S + px * P + j];
      }
      v[d] = s;
    }
    patches.push(v);
  }
  const pos = get(e + 'position_embeddings');
  const prefix = [get(e + 'cls_token')];
  if (hasDistToken(c)) prefix.push(get(e + 'distillation_token'));
  let x: Float64Array[] = [...prefix, ...patches].map((row, r) => row.map((v, d) => v + pos[r * D + d]));
  const T = x.length;
  const zeros = new Float64Array(D);
  for (let i = 0; i < c.layers; i++) {
    const l = `${p}encoder.layer.${i}.`;
    const h = layerNorm(x, get(l + 'layernorm_before.weight'), get(l + 'layernorm_before.bias'), c.eps);
    const proj = (q: string) => linear(h, get(`${l}attention.attention.${q}.weight`), c.qkvBias ? get(`${l}attention.attention.${q}.bias`) : zeros, D, D);
    const [Q, K, V] = ['query', 'key', 'value'].map(proj);
    const ctx = Array.from({ length: T }, () => new Float64Array(D));
    for (let head = 0; head < H; head++) {
      for (let r = 0; r < T; r++) {
        const sc = new Float64Array(T);
        for (let s = 0; s < T; s++) {
          let dot = 0;
          for (let k = 0; k < hd; k++) dot += Q[r][head * hd + k] * K[s][head * hd + k];
          sc[s] = dot * hd ** -0.5;
        }
        const m = Math.max(...sc);
        let z = 0;
        for (let s = 0; s < T; s++) z += (sc[s] = Math.exp(sc[s] - m));
        for (let k = 0; k < hd; k++) {
          let acc = 0;
          for (let s = 0; s < T; s++) acc += (sc[s] / z) * V[s][head * hd + k];
          ctx[r][head * hd + k] = acc;
        }
      }
    }
    const a = linear(ctx, get(l + 'attention.output.dense.weight'), get(l + 'attention.output.dense.bias'), D, D);
    x = x.map((row, r) => row.map((v, d) => v + a[r][d]));
    const h2 = layerNorm(x, get(l + 'layernorm_after.weight'), get(l + 'layernorm_after.bias'), c.eps);
    const f1 = linear(h2, get(l + 'intermediate.dense.weight'), get(l + 'intermediate.dense.bias'), c.intermediate, D).map((row) => row.map(gelu));
    const f2 = linear(f1, get(l + 'output.dense.weight'), get(l + 'output.dense.bias'), D, c.intermediate);
    x = x.map((row, r) => row.map((v, d) => v + f2[r][d]));
  }
  x = layerNorm(x, get(p + 'layernorm.weight'), get(p + 'layernorm.bias'), c.eps);
  const head = (name: string, row: Float64Array) => linear([row], get(name + '.weight'), get(name + '.bias'), c.classes, D)[0];
  if (c.cls === 'DeiTForImageClassificationWithTeacher') {
    const a = head('cls_classifier', x[0]), b = head('distillation_classifier', x[1]);
    return { logits: a.map((v, i) => (v + b[i]) / 2), feature: x[0] };
  }
  return { logits: head('classifier', x[0]), feature: x[0] };
}

/** config.json as transformers' save_pretrained writes it for this model. */
export function hfConfigJson(c: HfConfig, labels: string[]): string {
  return JSON.stringify({
    _name_or_path: 'random', architectures: [c.cls], model_type: c.cls.startsWith('DeiT') ? 'deit' : 'vit',
    attention_probs_dropout_prob: 0, encoder_stride: 16, hidden_act: 'gelu', hidden_dropout_prob: 0, hidden_size: c.hidden,
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])), label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
    image_size: c.imageSize, initializer_range: 0.02, intermediate_size: c.intermediate, layer_norm_eps: c.eps,
    num_attention_heads: c.heads, num_channels: c.channels, num_hidden_layers: c.layers, patch_size: c.patch,
    qkv_bias: c.qkvBias, torch_dtype: 'float32', transformers_version: '4.46.0',
  }, null, 2);
}
