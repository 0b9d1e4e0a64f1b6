// A plain float64 forward pass of ViT / DeiT / DeiT3 written the obvious way, straight from the timm tensors:
// the oracle the wasm engine is tested against. Slow and clear on purpose; use tiny configs.

import type { ViTConfig } from '../../sdk/format/model.js';
import { toFloat32, type Tensor } from '../../sdk/format/safetensors.js';

export interface ReferenceResult {
  logits: Float64Array;
  feature: Float64Array;
  attention: Float64Array[]; // per layer [heads, T, T]
  tokenNorms: Float64Array[]; // per layer [T]
}

type Vec = Float64Array;

/** erf in f64: Maclaurin series below 3, continued fraction above (error ~1e-13). */
export function erf(x: number): number {
  const ax = Math.abs(x);
  let r: number;
  if (ax < 3) {
    let t = ax, s = ax;
    for (let n = 1; Math.abs(t) > 1e-17 * Math.abs(s); n++) {
      t *= (-ax * ax) / n;
      s += t / (2 * n + 1);
    }
    r = (2 / Math.sqrt(Math.PI)) * s;
  } else {
    let f = 0;
    for (let k = 60; k >= 1; k--) f = k / 2 / (ax + f);
    r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  }
  return x < 0 ? -r : r;
}

export function referenceForward(tensors: Map<string, Tensor>, c: ViTConfig, chw: Float32Array): ReferenceResult {
  const get = (name: string): Vec => {
    const t = tensors.get(name);
    if (!t) throw new Error(`reference: no tensor ${name}`);
    return Float64Array.from(toFloat32(t));
  };
  const D = c.dim, P = c.patch, S = c.imgSize, G = S / P, hd = D / c.heads;

  const layerNorm = (x: Vec, g: Vec, b: Vec): Vec => {
    const mean = x.reduce((s, v) => s + v, 0) / x.length;
    const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length;
    return x.map((v, i) => ((v - mean) / Math.sqrt(variance + c.eps)) * g[i] + b[i]);
  };
  // y (out) = W (out, in) · x (in) + b (out)
  const linear = (x: Vec, W: Vec, b: Vec): Vec => {
    const out = new Float64Array(b.length);
    for (let o = 0; o < b.length; o++) {
      let s = b[o];
      for (let i = 0; i < x.length; i++) s += W[o * x.length + i] * x[i];
      out[o] = s;
    }
    return out;
  };
  const gelu = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));

  // patch embedding: a stride-P convolution, written as one
  const pw = get('patch_embed.proj.weight'), pb = get('patch_embed.proj.bias');
  let x: Vec[] = [get('cls_token')];
  if (c.distilled) x.push(get('dist_token'));
  const extra = x.length;
  for (let gy = 0; gy < G; gy++) {
    for (let gx = 0; gx < G; gx++) {
      const t = new Float64Array(D);
      for (let d = 0; d < D; d++) {
        let s = pb[d];
        for (let ch = 0; ch < c.inChans; ch++) {
          for (let y = 0; y < P; y++) {
            for (let xx = 0; xx < P; xx++) {
              s += pw[((d * c.inChans + ch) * P + y) * P + xx] * chw[(ch * S + gy * P + y) * S + gx * P + xx];
            }
          }
        }
        t[d] = s;
      }
      x.push(t);
    }
  }
  const pos = get('pos_embed');
  x = x.map((tok, t) => {
    const row = c.noEmbedClass ? t - extra : t; // DeiT3: positions for patch tokens only
    return row < 0 ? tok : tok.map((v, d) => v + pos[row * D + d]);
  });
  const T = x.length;

  const attention: Vec[] = [];
  const tokenNorms: Vec[] = [];
  for (let l = 0; l < c.depth; l++) {
    const p = (n: string) => get(`blocks.${l}.${n}`);
    // attention branch
    const h = x.map((tok) => layerNorm(tok, p('norm1.weight'), p('norm1.bias')));
    const qkvW = p('attn.qkv.weight'), qkvB = p('attn.qkv.bias');
    const qkv = h.map((tok) => linear(tok, qkvW, qkvB));
    const probs = new Float64Array(c.heads * T * T);
    const att = x.map(() => new Float64Array(D));
    for (let hh = 0; hh < c.heads; hh++) {
      for (let i = 0; i < T; i++) {
        const scores = new Float64Array(T);
        for (let j = 0; j < T; j++) {
          let s = 0;
          for (let d = 0; d < hd; d++) s += qkv[i][hh * hd + d] * qkv[j][D + hh * hd + d];
          scores[j] = s / Math.sqrt(hd);
        }
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j < T; j++) probs[(hh * T + i) * T + j] = e[j] / z;
        for (let d = 0; d < hd; d++) {
          let s = 0;
          for (let j = 0; j < T; j++) s += (e[j] / z) * qkv[j][2 * D + hh * hd + d];
          att[i][hh * hd + d] = s;
        }
      }
    }
    attention.push(probs);
    const ls1 = c.layerScale ? p('ls1.gamma') : new Float64Array(D).fill(1);
    const projW = p('attn.proj.weight'), projB = p('attn.proj.bias');
    x = x.map((tok, t) => {
      const f = linear(att[t], projW, projB);
      return tok.map((v, d) => v + ls1[d] * f[d]);
    });
    // MLP branch
    const ls2 = c.layerScale ? p('ls2.gamma') : new Float64Array(D).fill(1);
    const fc1W = p('mlp.fc1.weight'), fc1B = p('mlp.fc1.bias'), fc2W = p('mlp.fc2.weight'), fc2B = p('mlp.fc2.bias');
    x = x.map((tok) => {
      const hid = linear(layerNorm(tok, p('norm2.weight'), p('norm2.bias')), fc1W, fc1B).map(gelu);
      const f = linear(hid, fc2W, fc2B);
      return tok.map((v, d) => v + ls2[d] * f[d]);
    });
    tokenNorms.push(Float64Array.from(x, (tok) => Math.hypot(...tok)));
  }

  const nw = get('norm.weight'), nb = get('norm.bias');
  const feature = layerNorm(x[0], nw, nb);
  let logits = linear(feature, get('head.weight'), get('head.bias'));
  if (c.distilled) {
    const dist = linear(layerNorm(x[1], nw, nb), get('head_dist.weight'), get('head_dist.bias'));
    logits = logits.map((v, i) => (v + dist[i]) / 2);
  }
  return { logits, feature, attention, tokenNorms };
}
