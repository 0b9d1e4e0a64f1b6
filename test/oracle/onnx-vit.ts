// An independent implementation of the timm ViT / DeiT / DeiT3 forward pass as an ONNX graph (opset 17, IR 8),
// built from the same safetensors tensors the engine reads, for onnxruntime-web to run. Used by the parity test
// (fp32) and the latency benchmark (fp32, int8 MatMulInteger as onnxruntime's dynamic quantizer emits it, and
// int4 MatMulNBits). Test/bench code only: nothing under sdk/ may import this file or onnxruntime-web.
//
// Graph (B = batch, symbolic; N = patches; T = tokens; D = width; H = heads; hd = D/H):
//   pixels [B,C,S,S] → Conv(P×P, stride P) [B,D,g,g] → Reshape [B,D,N] → Transpose [B,N,D]
//   vit/deit : Concat(cls [B,1,D], (dist [B,1,D]), (reg [B,R,D]), x) + pos_embed [1,T,D]
//   deit3    : x + pos_embed [1,N,D], then Concat(cls, (reg), x)   (no_embed_class; cls absent without a class token)
//   block    : x += ls1 · proj(attn(LN1(x)));  x += ls2 · fc2(GELU(fc1(LN2(x))))
//   attn     : qkv [B,T,3D] → Split q,k,v [B,T,D] → [B,H,T,hd]; softmax(q·kᵀ/√hd) · v → [B,T,D]
//   head     : LN(x) → Gather token 0 → feature [B,D] → logits [B,K]; distilled: (head(tok0) + head_dist(tok1)) / 2
//   avg pool : Slice patches [B,N,D] → ReduceMean → LN(fc_norm) → feature; or LN(norm) → Slice → ReduceMean

import onnxProto from 'onnx-proto';
import { numPrefixTokens, tokenLayout, type ViTConfig } from '../../sdk/format/model.js';
import { numel, toFloat32, type Tensor } from '../../sdk/format/safetensors.js';
import { VitguardError } from '../../sdk/errors.js';

const { onnx } = onnxProto;

/** How the linear layers (qkv, proj, fc1, fc2) are expressed. */
export type OnnxLinearScheme = 'fp32' | 'int8' | 'int4';

export interface OnnxVitOptions {
  /** fp32 MatMul (default); int8: DynamicQuantizeLinear + MatMulInteger; int4: com.microsoft MatMulNBits. */
  scheme?: OnnxLinearScheme;
  /** int8 weight scales: one per output column (default, as vitguard's w8) or one per tensor. */
  int8Granularity?: 'per-column' | 'per-tensor';
  /** int4 block size along K (default 32). */
  int4Block?: number;
  /** Also quantize the classifier head(s) (default false: the head stays fp32, as in vitguard's default). */
  quantizeHead?: boolean;
}

const FLOAT = 1;
const UINT8 = 2;
const INT8 = 3;
const INT64 = 7;

type NodeProto = InstanceType<typeof onnx.NodeProto>;
type TensorProto = InstanceType<typeof onnx.TensorProto>;

// --- a small graph builder -----------------------------------------------------------------------

class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private counter = 0;
  usesMicrosoftDomain = false;

  fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  /** Add a node; returns its first output name. */
  op(opType: string, inputs: string[], attrs: Record<string, number | number[]> = {}, outputs?: string[] | number, domain = ''): string {
    const outs = Array.isArray(outputs)
      ? outputs
      : Array.from({ length: outputs ?? 1 }, () => this.fresh(opType.toLowerCase()));
    const attribute = Object.entries(attrs).map(([name, v]) => {
      if (Array.isArray(v)) return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
      if (Number.isInteger(v) && !['epsilon', 'alpha', 'beta'].includes(name)) {
        return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: v });
      }
      return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v });
    });
    if (domain) this.usesMicrosoftDomain = true;
    this.nodes.push(onnx.NodeProto.create({ opType, input: inputs, output: outs, name: this.fresh(opType), attribute, domain }));
    return outs[0];
  }

  /** All outputs of a multi-output node. */
  opN(opType: string, inputs: string[], n: number, attrs: Record<string, number | number[]> = {}, domain = ''): string[] {
    const outs = Array.from({ length: n }, () => this.fresh(opType.toLowerCase()));
    this.op(opType, inputs, attrs, outs, domain);
    return outs;
  }

  init(name: string, dataType: number, dims: number[], raw: Uint8Array): string {
    // copy: the file's bytes may be an unaligned view into a larger buffer
    this.initializers.push(onnx.TensorProto.create({ name, dataType, dims, rawData: raw.slice() }));
    return name;
  }

  f32(name: string, dims: number[], data: Float32Array): string {
    if (data.length !== numel(dims)) throw new VitguardError('E_TENSOR_SHAPE', `onnx initializer ${name}: ${data.length} values for shape ${JSON.stringify(dims)}`);
    return this.init(name, FLOAT, dims, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  i64(name: string, values: number[], dims: number[] = [values.length]): string {
    const data = new BigInt64Array(values.map((v) => BigInt(v)));
    return this.init(name, INT64, dims, new Uint8Array(data.buffer));
  }

  scalarF32(name: string, v: number): string {
    return this.f32(name, [], new Float32Array([v]));
  }
}

// --- weights ---------------------------------------------------------------------------------------

function weight(tensors: Map<string, Tensor>, name: string, shape: number[]): Float32Array {
  const t = tensors.get(name);
  if (!t) throw new VitguardError('E_TENSOR_MISSING', `onnx oracle: checkpoint has no tensor ${name}`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new VitguardError('E_TENSOR_SHAPE', `onnx oracle: tensor ${name} has shape ${JSON.stringify(t.shape)}, expected ${JSON.stringify(shape)}`);
  }
  return toFloat32(t);
}

/** W [N,K] row-major (PyTorch Linear) → Wᵀ [K,N] row-major (ONNX MatMul's right operand). */
export function transpose(w: Float32Array, n: number, k: number): Float32Array {
  const out = new Float32Array(n * k);
  for (let r = 0; r < n; r++) for (let c = 0; c < k; c++) out[c * n + r] = w[r * k + c];
  return out;
}

/** Symmetric int8 of Wᵀ [K,N]: q [K,N] in −127..127, scale per column [N] (or one repeated value per tensor). */
export function quantizeInt8Columns(wt: Float32Array, k: number, n: number, perTensor: boolean): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(n);
  for (let c = 0; c < n; c++) {
    let m = 0;
    for (let r = 0; r < k; r++) m = Math.max(m, Math.abs(wt[r * n + c]));
    scale[c] = m;
  }
  if (perTensor) scale.fill(scale.reduce((a, b) => Math.max(a, b), 0));
  for (let c = 0; c < n; c++) scale[c] = scale[c] > 0 ? scale[c] / 127 : 1;
  const q = new Int8Array(k * n);
  for (let r = 0; r < k; r++) {
    for (let c = 0; c < n; c++) q[r * n + c] = Math.max(-127, Math.min(127, Math.round(wt[r * n + c] / scale[c])));
  }
  return { q, scale };
}

/**
 * MatMulNBits 4-bit layout (com.microsoft): W [N,K] → B uint8 [N, K/block, block/2], element 2j in the low nibble,
 * 2j+1 in the high nibble, stored unsigned with the default zero point 8; scales f32 [N · K/block], symmetric
 * (scale = max|w| / 7 per block, values −8..7 → 0..15).
 */
export function quantizeInt4Blocks(w: Float32Array, n: number, k: number, block: number): { packed: Uint8Array; scales: Float32Array } {
  if (k % block !== 0 || block % 2 !== 0) throw new VitguardError('E_SCHEME', `onnx oracle: int4 block ${block} does not divide K=${k}`);
  const blocks = k / block;
  const packed = new Uint8Array(n * blocks * (block / 2));
  const scales = new Float32Array(n * blocks);
  for (let r = 0; r < n; r++) {
    for (let b = 0; b < blocks; b++) {
      let m = 0;
      for (let j = 0; j < block; j++) m = Math.max(m, Math.abs(w[r * k + b * block + j]));
      const s = m > 0 ? m / 7 : 1;
      scales[r * blocks + b] = s;
      for (let j = 0; j < block; j += 2) {
        const lo = Math.max(-8, Math.min(7, Math.round(w[r * k + b * block + j] / s))) + 8;
        const hi = Math.max(-8, Math.min(7, Math.round(w[r * k + b * block + j + 1] / s))) + 8;
        packed[(r * blocks + b) * (block / 2) + j / 2] = lo | (hi << 4);
      }
    }
  }
  return { packed, scales };
}

// --- the graph ---------------------------------------------------------------------------------------

/** Build the ONNX model bytes for a timm-layout checkpoint. Inputs: `pixels` [B,C,S,S]; outputs `logits` [B,K], `feature` [B,D]. */
export function buildVitOnnx(tensors: Map<string, Tensor>, c: ViTConfig, options: OnnxVitOptions = {}): Uint8Array {
  const scheme = options.scheme ?? 'fp32';
  if (!['fp32', 'int8', 'int4'].includes(scheme)) throw new VitguardError('E_SCHEME', `onnx oracle: unknown scheme ${scheme} (fp32, int8, int4)`);
  const perTensor = options.int8Granularity === 'per-tensor';
  const block = options.int4Block ?? 32;
  const g = new GraphBuilder();
  const D = c.dim;
  const H = c.heads;
  const hd = D / H;
  const grid = c.imgSize / c.patch;
  const N = grid * grid;
  const tl = tokenLayout(c);
  const extra = numPrefixTokens(c);
  const T = N + extra;
  const w = (name: string, shape: number[]) => weight(tensors, name, shape);

  // y [.., out] = x [.., in] · Wᵀ + b, for a PyTorch Linear `prefix` with W [out,in]
  const linear = (x: string, prefix: string, out: number, inp: number, quantize = true): string => {
    const W = w(prefix + '.weight', [out, inp]);
    const b = g.f32(prefix + '.bias', [out], w(prefix + '.bias', [out]));
    let y: string;
    if (scheme === 'fp32' || !quantize) {
      y = g.op('MatMul', [x, g.f32(prefix + '.weight_t', [inp, out], transpose(W, out, inp))]);
    } else if (scheme === 'int8') {
      // onnxruntime.quantization.quantize_dynamic's MatMul pattern: uint8 asymmetric activation per tensor,
      // int8 symmetric weights (zero point 0), int32 accumulate, rescale by a_scale · w_scale.
      const { q, scale } = quantizeInt8Columns(transpose(W, out, inp), inp, out, perTensor);
      const wq = g.init(prefix + '.weight_q', INT8, [inp, out], new Uint8Array(q.buffer));
      const wzp = perTensor
        ? g.init(prefix + '.weight_zp', INT8, [], new Uint8Array(1))
        : g.init(prefix + '.weight_zp', INT8, [out], new Uint8Array(out));
      const ws = perTensor ? g.scalarF32(prefix + '.weight_scale', scale[0]) : g.f32(prefix + '.weight_scale', [out], scale);
      const [xq, xs, xzp] = g.opN('DynamicQuantizeLinear', [x], 3);
      const acc = g.op('MatMulInteger', [xq, wq, xzp, wzp]);
      const accF = g.op('Cast', [acc], { to: FLOAT });
      const s = g.op('Mul', [xs, ws]);
      y = g.op('Mul', [accF, s]);
    } else {
      const { packed, scales } = quantizeInt4Blocks(W, out, inp, block);
      const bq = g.init(prefix + '.weight_q4', UINT8, [out, inp / block, block / 2], packed);
      const bs = g.f32(prefix + '.weight_s4', [out * (inp / block)], scales);
      y = g.op('MatMulNBits', [x, bq, bs], { K: inp, N: out, bits: 4, block_size: block }, 1, 'com.microsoft');
    }
    return g.op('Add', [y, b]);
  };

  const layerNorm = (x: string, prefix: string): string =>
    g.op('LayerNormalization', [x, g.f32(prefix + '.weight', [D], w(prefix + '.weight', [D])), g.f32(prefix + '.bias', [D], w(prefix + '.bias', [D]))], {
      axis: -1,
      epsilon: c.eps,
    });

  const invSqrt2 = g.scalarF32('c_inv_sqrt2', Math.SQRT1_2);
  const one = g.scalarF32('c_one', 1);
  const half = g.scalarF32('c_half', 0.5);
  // exact GELU: 0.5 · x · (1 + erf(x / √2))
  const gelu = (x: string): string => g.op('Mul', [g.op('Mul', [x, g.op('Add', [g.op('Erf', [g.op('Mul', [x, invSqrt2])]), one])]), half]);

  // --- patch embedding and tokens
  const conv = g.op('Conv', ['pixels', g.f32('patch_embed.proj.weight', [D, c.inChans, c.patch, c.patch], w('patch_embed.proj.weight', [D, c.inChans, c.patch, c.patch])), g.f32('patch_embed.proj.bias', [D], w('patch_embed.proj.bias', [D]))], {
    kernel_shape: [c.patch, c.patch],
    strides: [c.patch, c.patch],
  });
  let x = g.op('Transpose', [g.op('Reshape', [conv, g.i64('s_bdn', [0, D, N])])], { perm: [0, 2, 1] }); // [B,N,D]
  const batch = g.op('Shape', ['pixels'], { start: 0, end: 1 }); // [1] = B
  const tokenShape = g.op('Concat', [batch, g.i64('s_1d', [1, D])], { axis: 0 }); // [B,1,D]
  const token = (name: string) => g.op('Expand', [g.f32(name, [1, 1, D], w(name, [1, 1, D])), tokenShape]);
  const prefix: string[] = [];
  if (tl.classToken) prefix.push(token('cls_token'));
  if (c.distilled) prefix.push(token('dist_token'));
  if (tl.regTokens) {
    const R = tl.regTokens;
    const regShape = g.op('Concat', [batch, g.i64('s_rd', [R, D])], { axis: 0 }); // [B,R,D]
    prefix.push(g.op('Expand', [g.f32('reg_token', [1, R, D], w('reg_token', [1, R, D])), regShape]));
  }
  if (c.noEmbedClass) {
    x = g.op('Add', [x, g.f32('pos_embed', [1, N, D], w('pos_embed', [1, N, D]))]);
    if (prefix.length) x = g.op('Concat', [...prefix, x], { axis: 1 });
  } else {
    x = g.op('Concat', [...prefix, x], { axis: 1 });
    x = g.op('Add', [x, g.f32('pos_embed', [1, T, D], w('pos_embed', [1, T, D]))]);
  }

  // --- blocks
  const headsShape = g.i64('s_bthd', [0, 0, H, hd]);
  const mergeShape = g.i64('s_btd', [0, 0, D]);
  const splitSizes = g.i64('s_split3', [D, D, D]);
  const attnScale = g.scalarF32('c_attn_scale', 1 / Math.sqrt(hd));
  for (let i = 0; i < c.depth; i++) {
    const p = `blocks.${i}.`;
    const h = layerNorm(x, p + 'norm1');
    const qkv = linear(h, p + 'attn.qkv', 3 * D, D); // [B,T,3D], rows q | k | v, heads contiguous
    const [q, k, v] = g.opN('Split', [qkv, splitSizes], 3, { axis: 2 });
    const qh = g.op('Transpose', [g.op('Reshape', [q, headsShape])], { perm: [0, 2, 1, 3] }); // [B,H,T,hd]
    const kt = g.op('Transpose', [g.op('Reshape', [k, headsShape])], { perm: [0, 2, 3, 1] }); // [B,H,hd,T]
    const vh = g.op('Transpose', [g.op('Reshape', [v, headsShape])], { perm: [0, 2, 1, 3] }); // [B,H,T,hd]
    const scores = g.op('Mul', [g.op('MatMul', [qh, kt]), attnScale]); // [B,H,T,T]
    const attn = g.op('Softmax', [scores], { axis: -1 });
    const ctx = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [attn, vh])], { perm: [0, 2, 1, 3] }), mergeShape]); // [B,T,D]
    let a = linear(ctx, p + 'attn.proj', D, D);
    if (c.layerScale) a = g.op('Mul', [a, g.f32(p + 'ls1.gamma', [D], w(p + 'ls1.gamma', [D]))]);
    x = g.op('Add', [x, a]);
    const h2 = layerNorm(x, p + 'norm2');
    let m = linear(gelu(linear(h2, p + 'mlp.fc1', c.mlpHidden, D)), p + 'mlp.fc2', D, c.mlpHidden);
    if (c.layerScale) m = g.op('Mul', [m, g.f32(p + 'ls2.gamma', [D], w(p + 'ls2.gamma', [D]))]);
    x = g.op('Add', [x, m]);
  }

  // --- head
  const normName = tl.fcNorm ? 'fc_norm' : 'norm';
  const patchesOf = (y: string) => g.op('Slice', [y, g.i64('i_p0', [extra]), g.i64('i_pT', [T]), g.i64('i_ax1', [1])]); // [B,N,D]
  let feature: string;
  if (tl.globalPool === 'token') {
    x = layerNorm(x, normName);
    feature = g.op('Gather', [x, g.i64('i_tok0', [0], [])], { axis: 1 }, ['feature']); // [B,D]
  } else if (tl.fcNorm) {
    feature = g.op('LayerNormalization', [g.op('ReduceMean', [patchesOf(x)], { axes: [1], keepdims: 0 }), g.f32('fc_norm.weight', [D], w('fc_norm.weight', [D])), g.f32('fc_norm.bias', [D], w('fc_norm.bias', [D]))], { axis: -1, epsilon: c.eps }, ['feature']);
  } else {
    feature = g.op('ReduceMean', [patchesOf(layerNorm(x, 'norm'))], { axes: [1], keepdims: 0 }, ['feature']);
  }
  const qh = options.quantizeHead ?? false;
  if (c.distilled) {
    const dist = g.op('Gather', [x, g.i64('i_tok1', [1], [])], { axis: 1 }); // [B,D]
    const l0 = linear(feature, 'head', c.numClasses, D, qh);
    const l1 = linear(dist, 'head_dist', c.numClasses, D, qh);
    g.op('Mul', [g.op('Add', [l0, l1]), half], {}, ['logits']);
  } else {
    g.op('Identity', [linear(feature, 'head', c.numClasses, D, qh)], {}, ['logits']);
  }

  const tensorType = (dims: Array<number | string>) => ({
    tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } },
  });
  const opsetImport = [{ domain: '', version: 17 }];
  if (g.usesMicrosoftDomain) opsetImport.push({ domain: 'com.microsoft', version: 1 });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport,
    producerName: 'vitguard-oracle',
    graph: onnx.GraphProto.create({
      name: 'vit',
      node: g.nodes,
      initializer: g.initializers,
      input: [{ name: 'pixels', type: tensorType(['B', c.inChans, c.imgSize, c.imgSize]) }],
      output: [
        { name: 'logits', type: tensorType(['B', c.numClasses]) },
        { name: 'feature', type: tensorType(['B', D]) },
      ],
    }),
  });
  return onnx.ModelProto.encode(model).finish();
}
