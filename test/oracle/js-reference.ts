// A plain float64 forward pass of a timm ViT / DeiT / DeiT3, written as obviously as possible (loops over indices,
// no packing, no tricks) and independent of both the engine and the ONNX graph. Only for tiny configs: it is slow.
// The one f64 reference: test/oracle checks the ONNX graph against it, test/engine the wasm engine (attention and
// token norms included), test/kernels the GELU kernel against its erf.

import { tokenLayout, type ViTConfig } from '../../sdk/format/model.js';
import { toFloat32, type Tensor } from '../../sdk/format/safetensors.js';
import { VitguardError } from '../../sdk/errors.js';

export interface ReferenceOutput {
  logits: Float64Array; // [numClasses]
  feature: Float64Array; // [D]
  attention: Float64Array[]; // per layer [heads, T, T]: softmax probabilities
  tokenNorms: Float64Array[]; // per layer [T]: L2 norm of every token of the block output
}

function get(tensors: Map<string, Tensor>, name: string): Float64Array {
  const t = tensors.get(name);
  if (!t) throw new VitguardError('E_TENSOR_MISSING', `js reference: no tensor ${name}`);
  return Float64Array.from(toFloat32(t));
}

/** y [T,out] = x [T,in] · Wᵀ + b, W [out,in] row-major. */
export function linear(x: Float64Array[], W: Float64Array, b: Float64Array, out: number, inp: number): Float64Array[] {
  return x.map((row) => {
    const y = new Float64Array(out);
    for (let o = 0; o < out; o++) {
      let s = b[o];
      for (let i = 0; i < inp; i++) s += row[i] * W[o * inp + i];
      y[o] = s;
    }
    return y;
  });
}

export function layerNorm(x: Float64Array[], gamma: Float64Array, beta: Float64Array, eps: number): Float64Array[] {
  return x.map((row) => {
    const n = row.length;
    let mean = 0;
    for (const v of row) mean += v;
    mean /= n;
    let variance = 0;
    for (const v of row) variance += (v - mean) ** 2;
    variance /= n;
    const inv = 1 / Math.sqrt(variance + eps);
    return row.map((v, i) => (v - mean) * inv * gamma[i] + beta[i]);
  });
}

/** erf by Abramowitz–Stegun 7.1.26 is only 1e-7; use a series / continued fraction good to ~1e-15. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series: erf x = 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1))
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 60; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc by Lentz's continued fraction: erfc x = exp(−x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...))))
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

export const gelu = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));

/** Replaces the block linears (qkv, proj, fc1, fc2) to model a quantized graph; `prefix` is e.g. `blocks.0.attn.qkv`. */
export type LinearFn = (prefix: string, x: Float64Array[], W: Float64Array, b: Float64Array, out: number, inp: number) => Float64Array[];

/** Forward one image. pixels: Float32 [C,S,S] (already normalised). */
export function referenceForward(tensors: Map<string, Tensor>, c: ViTConfig, pixels: Float32Array, blockLinear: LinearFn = (_, ...a) => linear(...a)): ReferenceOutput {
  const D = c.dim;
  const P = c.patch;
  const S = c.imgSize;
  const grid = S / P;
  const H = c.heads;
  const hd = D / H;
  const t = (name: string) => get(tensors, name);

  // patch embedding: token n = (py, px) row-major; value d = Σ_c,i,j W[d,c,i,j] · pixel[c, py·P+i, px·P+j] + b[d]
  const Wp = t('patch_embed.proj.weight');
  const bp = t('patch_embed.proj.bias');
  const patches: Float64Array[] = [];
  for (let py = 0; py < grid; py++) {
    for (let px = 0; px < grid; px++) {
      const e = new Float64Array(D);
      for (let d = 0; d < D; d++) {
        let s = bp[d];
        for (let ch = 0; ch < c.inChans; ch++) {
          for (let i = 0; i < P; i++) {
            for (let j = 0; j < P; j++) {
              s += Wp[((d * c.inChans + ch) * P + i) * P + j] * pixels[(ch * S + py * P + i) * S + px * P + j];
            }
          }
        }
        e[d] = s;
      }
      patches.push(e);
    }
  }

  // timm's _pos_embed: [cls] [dist] [reg × R] then the patches; pos_embed over all rows, or the patches only
  const pos = t('pos_embed');
  const addPos = (rows: Float64Array[]) => rows.map((row, r) => row.map((v, d) => v + pos[r * D + d]));
  const { classToken, regTokens, globalPool, fcNorm } = tokenLayout(c);
  const prefix: Float64Array[] = [];
  if (classToken) prefix.push(t('cls_token'));
  if (c.distilled) prefix.push(t('dist_token'));
  const reg = regTokens ? t('reg_token') : null;
  for (let r = 0; r < regTokens; r++) prefix.push(reg!.slice(r * D, (r + 1) * D));
  let x: Float64Array[] = c.noEmbedClass ? [...prefix, ...addPos(patches)] : addPos([...prefix, ...patches]);
  const T = x.length;

  const attention: Float64Array[] = [];
  const tokenNorms: Float64Array[] = [];
  for (let b = 0; b < c.depth; b++) {
    const p = `blocks.${b}.`;
    // attention
    const h = layerNorm(x, t(p + 'norm1.weight'), t(p + 'norm1.bias'), c.eps);
    const qkv = blockLinear(p + 'attn.qkv', h, t(p + 'attn.qkv.weight'), t(p + 'attn.qkv.bias'), 3 * D, D);
    const ctx = Array.from({ length: T }, () => new Float64Array(D));
    const probs = new Float64Array(H * T * T);
    for (let head = 0; head < H; head++) {
      const q = (r: number, i: number) => qkv[r][head * hd + i];
      const k = (r: number, i: number) => qkv[r][D + head * hd + i];
      const v = (r: number, i: number) => qkv[r][2 * D + head * hd + i];
      for (let r = 0; r < T; r++) {
        const scores = new Float64Array(T);
        for (let s = 0; s < T; s++) {
          let dot = 0;
          for (let i = 0; i < hd; i++) dot += q(r, i) * k(s, i);
          scores[s] = dot / Math.sqrt(hd);
        }
        const mx = Math.max(...scores);
        let z = 0;
        for (let s = 0; s < T; s++) { scores[s] = Math.exp(scores[s] - mx); z += scores[s]; }
        for (let s = 0; s < T; s++) probs[(head * T + r) * T + s] = scores[s] / z;
        for (let i = 0; i < hd; i++) {
          let acc = 0;
          for (let s = 0; s < T; s++) acc += (scores[s] / z) * v(s, i);
          ctx[r][head * hd + i] = acc;
        }
      }
    }
    attention.push(probs);
    const a = blockLinear(p + 'attn.proj', ctx, t(p + 'attn.proj.weight'), t(p + 'attn.proj.bias'), D, D);
    const g1 = c.layerScale ? t(p + 'ls1.gamma') : null;
    x = x.map((row, r) => row.map((v, d) => v + (g1 ? g1[d] : 1) * a[r][d]));
    // MLP
    const h2 = layerNorm(x, t(p + 'norm2.weight'), t(p + 'norm2.bias'), c.eps);
    const f1 = blockLinear(p + 'mlp.fc1', h2, t(p + 'mlp.fc1.weight'), t(p + 'mlp.fc1.bias'), c.mlpHidden, D).map((row) => row.map(gelu));
    const f2 = blockLinear(p + 'mlp.fc2', f1, t(p + 'mlp.fc2.weight'), t(p + 'mlp.fc2.bias'), D, c.mlpHidden);
    const g2 = c.layerScale ? t(p + 'ls2.gamma') : null;
    x = x.map((row, r) => row.map((v, d) => v + (g2 ? g2[d] : 1) * f2[r][d]));
    tokenNorms.push(Float64Array.from(x, (row) => Math.hypot(...row)));
  }

  // head input: the class token after `norm`, or the mean of the patch rows (prefix rows excluded), normed by `norm`
  // before pooling or by `fc_norm` after it
  const mean = (rows: Float64Array[]) => Float64Array.from({ length: D }, (_, d) => rows.reduce((s, row) => s + row[d], 0) / rows.length);
  const P0 = prefix.length;
  let feature: Float64Array;
  if (globalPool === 'token') {
    const n = fcNorm ? 'fc_norm' : 'norm'; // timm: fc_norm on the pooled token = norm on every row, row 0 taken
    x = layerNorm(x, t(n + '.weight'), t(n + '.bias'), c.eps);
    feature = x[0];
  } else if (fcNorm) {
    feature = layerNorm([mean(x.slice(P0))], t('fc_norm.weight'), t('fc_norm.bias'), c.eps)[0];
  } else {
    feature = mean(layerNorm(x.slice(P0), t('norm.weight'), t('norm.bias'), c.eps));
  }
  let logits = linear([feature], t('head.weight'), t('head.bias'), c.numClasses, D)[0];
  if (c.distilled) {
    const ld = linear([x[1]], t('head_dist.weight'), t('head_dist.bias'), c.numClasses, D)[0];
    logits = logits.map((v, i) => (v + ld[i]) / 2);
  }
  return { logits, feature, attention, tokenNorms };
}
