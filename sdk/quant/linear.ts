// Quantized linear layers for the engine (sdk/engine/linear.ts): one LinearKind per weight format, registered for
// the schemes w8a8, w4a8, w4a16, w4a4 and the simulated `sim`. Layers the scheme does not list stay f32.
//
//   w8a8   x f32 (rows, K) → quantize_act_rows (i16, per row or static scale) → gemm_q8 (i16-resident int8 panels)
//   w4a8   int4Memory 'compact': x → quantize_act_rows (i8 + group sums on relaxed / i16 on simd) → gemm_q4 (int4
//          nibble panels; relaxed: unpacked in registers; simd: each 8-column panel expanded into a per-thread i16
//          panel scratch per call); 'fast': int4 expanded once to i16 panels → quantize_act_rows (i16) → gemm_q4i16.
//          'auto' (default): compact on both builds (as fast as 'fast', a third of its memory).
//   w4a4   as w4a8 with activations in [-7, 7]
//   int8 edges  the patch embedding / head(s) of an int4 scheme listed in `int8Layers` (Q8_PC): w8a8 with dynamic
//          per-token activations, whatever the scheme's activation setting
//   w4a16  x f32 → gemm_w4a16 (int4 nibble panels; each 4-column panel dequantized into a 16·(K+1)-byte f32 scratch
//          per row block, then gemm_f32's 2×4 dot tile)
//   sim    f32 weights already fake-quantized by simulateModel; x is copied, fake_quant_act_rows'd, then gemm_f32
// One activation scratch per wasm instance, shared by all its quantized layers (they run one at a time); rows of it
// belong to rows of the input, so threads running disjoint rows never meet; the panel (w4a16's f32 panel, or simd
// gemm_q4's i16 panel) is one per thread.

import { VitguardError } from '../errors.js';
import { numTokens, type SchemeInfo, type ViTConfig } from '../format/model.js';
import type { Tensor } from '../format/safetensors.js';
import { F32_LINEAR, finiteFloat32, linearOp, registerScheme, runCalls, FLOAT_DTYPES, type Int4Memory, type Linear, type LinearBuildContext, type LinearKind, type LinearSpec, type TensorSpec } from '../engine/linear.js';
import type { KernelCall } from '../engine/program.js';
import type { WasmInstance } from '../engine/wasm.js';
import { allocBytes, allocFloatTensor } from '../engine/weights.js';
import { assertQ8, q4Shape, type QuantScheme } from './formats.js';

/** The integer-kernel exports of the wasm build (assembly/quant.ts, gemm_q8.ts, gemm_q4.ts). */
export interface QuantKernels {
  quantize_act_rows(x: number, M: number, K: number, qmax: number, staticScale: number, q: number, qBytes: number, ldq: number, scales: number, sums: number, G: number): void;
  fake_quant_act_rows(x: number, M: number, K: number, bits: number): void;
  q8_kpad(K: number): number;
  gemm_q8_packed_bytes(N: number, K: number): number;
  gemm_q8_act_bytes(M: number, K: number): number;
  gemm_q8_pack(wq: number, sw: number, bias: number, N: number, K: number, dst: number): void;
  gemm_q8(a: number, sa: number, packed: number, out: number, M: number, N: number, K: number): void;
  q4_int_layout(): number;
  q4_act_elem_bytes(): number;
  gemm_q4_packed_bytes(N: number, K: number, G: number): number;
  gemm_q4_act_bytes(M: number, K: number, G: number): number;
  gemm_q4_pack(wq: number, sw: number, bias: number, N: number, K: number, G: number, layout: number, dst: number): void;
  q4_act_sums(): number;
  gemm_q4_panel_bytes(K: number, G: number): number;
  gemm_q4(a: number, sa: number, sums: number, packed: number, out: number, M: number, N: number, K: number, G: number, panel: number): void;
  gemm_w4a16(x: number, packed: number, out: number, M: number, N: number, K: number, G: number, panel: number): void;
  gemm_w4a16_panel_bytes(K: number): number;
  gemm_q4i16_packed_bytes(N: number, K: number, G: number): number;
  gemm_q4i16_pack(wq: number, sw: number, bias: number, N: number, K: number, G: number, dst: number): void;
  gemm_q4i16(a: number, sa: number, packed: number, out: number, M: number, N: number, K: number, G: number): void;
  Q4_LAYOUT_F: WebAssembly.Global;
  copy_f32(dst: number, src: number, n: number): void;
  gemm_f32(out: number, inp: number, packed: number, M: number, N: number, K: number, lda: number, ldc: number): void;
}

function quantKernels(wasm: WasmInstance): QuantKernels {
  const k = wasm.kernels as unknown as QuantKernels & Record<string, unknown>;
  if (typeof k.gemm_q8 !== 'function' || typeof k.gemm_q4 !== 'function') {
    throw new VitguardError('E_WASM', 'this wasm build has no integer kernels (gemm_q8/gemm_q4): rebuild it with `npm run build:wasm`');
  }
  return k;
}

// --- shared scratch --------------------------------------------------------------------------------------

/** The widest K any linear of this config reads (fc2: mlpHidden; patch embedding: C·P·P). */
function maxInFeatures(c: ViTConfig): number {
  return Math.max(c.dim, c.mlpHidden, c.inChans * c.patch * c.patch);
}

interface ScratchLayout { q: number; scales: number; sums: number; panel: number; panelBytes: number; bytes: number; qRow: number; sumRow: number }

const align64 = (n: number) => Math.ceil(n / 64) * 64;

/**
 * Regions of the per-instance scratch, from `base`: q = quantized activations (rows, Kpad) i16, or the simulated
 * path's f32 (rows, K) copy, whichever is larger; scales f32 (rows); sums i32 (rows, K/32); panel = one kernel panel
 * per thread, panelBytes = the larger of gemm_w4a16_panel_bytes(K) (w4a16's dequantized f32 panel) and
 * gemm_q4_panel_bytes(K, 32) (simd gemm_q4's i16 panel; 0 on relaxed) — the kernels say how much they write.
 */
function layout(base: number, rows: number, K: number, panelBytes: number, threads: number): ScratchLayout {
  // Rows [r0, r1) of every layer start at r0 · (the widest K's row bytes), each layer's rows packed at its own K from
  // there: threads on disjoint row ranges never meet, even when one runs fc1 (K = D) while another runs fc2 (K = H)
  const qRow = Math.max(((K + 7) & ~7) * 2, K * 4), sumRow = Math.ceil(K / 32) * 4;
  const q = base;
  const scales = q + align64(rows * qRow);
  const sums = scales + align64(rows * 4);
  const panel = sums + align64(rows * sumRow);
  const end = panel + threads * align64(panelBytes);
  return { q, scales, sums, panel, panelBytes: align64(panelBytes), bytes: end - base, qRow, sumRow };
}

const scratchOf = new WeakMap<WasmInstance, ScratchLayout>();

/** The instance's scratch, laid once (at its first quantized layer) for maxRows rows of the widest K. */
function scratch(ctx: LinearBuildContext): ScratchLayout {
  let s = scratchOf.get(ctx.wasm);
  if (!s) {
    const K = maxInFeatures(ctx.meta.config);
    const k = quantKernels(ctx.wasm);
    // G = 32, the smallest group (formats.ts), needs the most panel bytes
    const panelBytes = Math.max(k.gemm_w4a16_panel_bytes(K), k.gemm_q4_panel_bytes(K, 32));
    const threads = ctx.threads ?? 1;
    const size = layout(0, ctx.maxRows, K, panelBytes, threads).bytes;
    s = layout(ctx.wasm.heap.alloc(size), ctx.maxRows, K, panelBytes, threads);
    scratchOf.set(ctx.wasm, s);
  }
  return s;
}

// --- tensors ----------------------------------------------------------------------------------------------

function schemeOf(info: SchemeInfo): QuantScheme {
  return info as unknown as QuantScheme;
}

function staticScale(spec: LinearSpec, scheme: QuantScheme, tensors: Map<string, Tensor>): number {
  if (scheme.act !== 'static') return 0;
  const s = finiteFloat32(`${spec.name}.act_scale`, tensors.get(`${spec.name}.act_scale`)!)[0];
  if (!(s > 0)) throw new VitguardError('E_SCHEME', `${spec.name}.act_scale must be positive, got ${s}`);
  return s;
}

function quantTensors(spec: LinearSpec, scheme: QuantScheme): TensorSpec[] {
  const N = spec.outFeatures, K = spec.inFeatures;
  const list: TensorSpec[] = [{ name: `${spec.name}.bias`, shape: [N], dtypes: FLOAT_DTYPES }];
  if (scheme.weightBits === 8) {
    list.push({ name: `${spec.name}.weight.q`, shape: [N, K], dtypes: ['I8'] }, { name: `${spec.name}.weight.scale`, shape: [N], dtypes: ['F32'] });
  } else {
    const G = scheme.group;
    if (!(G > 0) || K % G !== 0) throw new VitguardError('E_SCHEME', `${spec.name}: scheme group ${G} does not divide K = ${K}`);
    list.push({ name: `${spec.name}.weight.q`, shape: [N, K / 2], dtypes: ['U8'] }, { name: `${spec.name}.weight.scale`, shape: [N, K / G], dtypes: ['F16', 'F32'] });
  }
  if (scheme.act === 'static' && scheme.actBits < 32) list.push({ name: `${spec.name}.act_scale`, shape: [1], dtypes: ['F32'] });
  return list;
}

// --- int8 weights × int8 activations ---------------------------------------------------------------------

class Q8Linear implements Linear {
  readonly kind = 'w8a8';
  readonly bytes: number;
  private readonly packed: number;
  private readonly s: ScratchLayout;
  private readonly k: QuantKernels;
  private readonly actScale: number;
  private readonly wasm: WasmInstance;

  constructor(readonly spec: LinearSpec, ctx: LinearBuildContext, scheme: QuantScheme) {
    this.wasm = ctx.wasm;
    const { heap } = ctx.wasm;
    const k = (this.k = quantKernels(ctx.wasm));
    const N = spec.outFeatures, K = spec.inFeatures;
    this.s = scratch(ctx);
    this.actScale = staticScale(spec, scheme, ctx.tensors);
    const wq = ctx.tensors.get(`${spec.name}.weight.q`)!, ws = ctx.tensors.get(`${spec.name}.weight.scale`)!;
    assertQ8(spec.name, wq, ws, N, K);
    const bias = finiteFloat32(`${spec.name}.bias`, ctx.tensors.get(`${spec.name}.bias`)!);
    this.bytes = k.gemm_q8_packed_bytes(N, K);
    this.packed = heap.alloc(this.bytes);
    const mark = heap.mark();
    // the file's bytes straight into wasm memory (sdk/engine/weights.ts), packed there
    const pq = allocBytes(ctx.wasm, wq);
    const ps = allocFloatTensor(ctx.wasm, `${spec.name}.weight.scale`, ws, false), pb = heap.allocF32(bias);
    k.gemm_q8_pack(pq, ps, pb, N, K, this.packed);
    heap.release(mark);
  }

  run(inPtr: number, outPtr: number, rows: number): void {
    runCalls(this.wasm, this.calls(inPtr, outPtr, 0, rows));
  }

  calls(inPtr: number, outPtr: number, r0: number, r1: number): KernelCall[] {
    const { inFeatures: K, outFeatures: N } = this.spec;
    const ldq = this.k.q8_kpad(K), rows = r1 - r0;
    const q = this.s.q + r0 * this.s.qRow, scales = this.s.scales + r0 * 4;
    return [
      { op: 'act_quant', fn: 'quantize_act_rows', args: [inPtr + r0 * K * 4, rows, K, 127, this.actScale, q, 2, ldq, scales, 0, 0] },
      { op: linearOp(this.spec), fn: 'gemm_q8', args: [q, scales, this.packed, outPtr + r0 * N * 4, rows, N, K] },
    ];
  }
}

// --- int4 weights × int8 / int4 / f32 activations ----------------------------------------------------------

class Q4Linear implements Linear {
  readonly kind: string;
  readonly bytes: number;
  private readonly packed: number;
  private readonly s: ScratchLayout;
  private readonly k: QuantKernels;
  private readonly G: number;
  private readonly actQmax: number; // 127 (a8), 7 (a4), 0 = f32 activations (w4a16)
  private readonly actScale: number;
  private readonly tokens: number; // tokens per image
  /** 'fast': i16-resident panels read by gemm_q4i16; 'compact': nibble panels read by gemm_q4 / gemm_w4a16. */
  readonly memory: 'compact' | 'fast';
  /** gemm_q4 reads the activations' group sums (relaxed build; q4_act_sums). */
  private readonly compactSums: boolean;
  private readonly wasm: WasmInstance;

  /**
   * a8Tokens > 0 (the outlier-aware w4a4-oa): the first a8Tokens rows of every image (class, distillation tokens)
   * are quantized at 8 bits, the others at the scheme's bits; the per-token quantizer keeps rows independent.
   */
  constructor(readonly spec: LinearSpec, ctx: LinearBuildContext, scheme: QuantScheme, private readonly a8Tokens = 0) {
    this.wasm = ctx.wasm;
    const { heap } = ctx.wasm;
    const k = (this.k = quantKernels(ctx.wasm));
    const N = spec.outFeatures, K = spec.inFeatures;
    this.kind = a8Tokens ? `${scheme.name}+a8tokens` : scheme.name;
    this.actQmax = scheme.actBits >= 32 ? 0 : 2 ** (scheme.actBits - 1) - 1;
    this.s = scratch(ctx);
    this.actScale = this.actQmax ? staticScale(spec, scheme, ctx.tensors) : 0;
    this.tokens = numTokens(ctx.meta.config);
    if (a8Tokens && (!this.actQmax || this.actScale || a8Tokens > this.tokens)) {
      throw new VitguardError('E_SCHEME', `${spec.name}: 8-bit token rows (${a8Tokens}) need dynamic integer activations and at most ${this.tokens} tokens`);
    }
    const wq = ctx.tensors.get(`${spec.name}.weight.q`)!, ws = ctx.tensors.get(`${spec.name}.weight.scale`)!;
    const { G } = q4Shape(spec.name, wq, ws);
    if (G !== scheme.group) throw new VitguardError('E_SCHEME', `${spec.name}: scale tensor implies group ${G}, the scheme says ${scheme.group}`);
    this.G = G;
    const bias = finiteFloat32(`${spec.name}.bias`, ctx.tensors.get(`${spec.name}.bias`)!);
    this.memory = this.actQmax ? resolveInt4Memory(ctx.int4Memory, ctx.wasm.build) : 'compact';
    this.compactSums = k.q4_act_sums() === 1;
    this.bytes = this.memory === 'fast' ? k.gemm_q4i16_packed_bytes(N, K, this.G) : k.gemm_q4_packed_bytes(N, K, this.G);
    this.packed = heap.alloc(this.bytes);
    const mark = heap.mark();
    // the file's nibbles and scales straight into wasm memory (F16 scales widened there: sdk/engine/weights.ts)
    const pq = allocBytes(ctx.wasm, wq);
    const ps = allocFloatTensor(ctx.wasm, `${spec.name}.weight.scale`, ws, false), pb = heap.allocF32(bias);
    if (this.memory === 'fast') {
      k.gemm_q4i16_pack(pq, ps, pb, N, K, this.G, this.packed);
    } else {
      const layout = this.actQmax ? k.q4_int_layout() : (k.Q4_LAYOUT_F.value as number);
      k.gemm_q4_pack(pq, ps, pb, N, K, this.G, layout, this.packed);
    }
    heap.release(mark);
  }

  run(inPtr: number, outPtr: number, rows: number): void {
    if (this.a8Tokens && rows % this.tokens !== 0) {
      throw new VitguardError('E_SCHEME', `${this.spec.name}: ${rows} rows are not whole images of ${this.tokens} tokens`);
    }
    runCalls(this.wasm, this.calls(inPtr, outPtr, 0, rows, 0));
  }

  calls(inPtr: number, outPtr: number, r0: number, r1: number, t: number): KernelCall[] {
    const { inFeatures: K, outFeatures: N } = this.spec;
    const op = linearOp(this.spec), rows = r1 - r0;
    const x = inPtr + r0 * K * 4, out = outPtr + r0 * N * 4;
    if (!this.actQmax) {
      const s = this.s;
      return [{ op, fn: 'gemm_w4a16', args: [x, this.packed, out, rows, N, K, this.G, s.panel + t * s.panelBytes] }];
    }
    const fast = this.memory === 'fast';
    const eb = fast ? 2 : this.k.q4_act_elem_bytes(); // bytes per quantized activation
    const withSums = !fast && this.compactSums; // group sums only for the relaxed build's compact kernel
    const G = withSums ? this.G : 0;
    const sumStride = withSums ? (K / this.G) * 4 : 0;
    const q = this.s.q + r0 * this.s.qRow, scales = this.s.scales + r0 * 4, sums = withSums ? this.s.sums + r0 * this.s.sumRow : 0;
    const calls: KernelCall[] = [{ op: 'act_quant', fn: 'quantize_act_rows', args: [x, rows, K, this.actQmax, this.actScale, q, eb, K, scales, sums, G] }];
    // w4a4-oa: the first a8Tokens rows of every image again at 8 bits (those of them inside [r0, r1))
    const T = this.tokens;
    for (let b = Math.floor(r0 / T) * T; this.a8Tokens && b < r1; b += T) {
      const s0 = Math.max(b, r0), s1 = Math.min(b + this.a8Tokens, r1);
      if (s1 <= s0) continue;
      const d = s0 - r0;
      calls.push({ op: 'act_quant', fn: 'quantize_act_rows', args: [x + d * K * 4, s1 - s0, K, 127, 0, q + d * K * eb, eb, K, scales + d * 4, sums && sums + d * sumStride, G] });
    }
    calls.push(fast
      ? { op, fn: 'gemm_q4i16', args: [q, scales, this.packed, out, rows, N, K, this.G] }
      : { op, fn: 'gemm_q4', args: [q, scales, sums, this.packed, out, rows, N, K, this.G, this.s.panel + t * this.s.panelBytes] });
    return calls;
  }
}

/**
 * 'auto' → 'compact' on every build: the nibble kernels run as fast as the i16-resident one (relaxed: faster; simd:
 * within ±3 %, docs/quantization.md) with 0.625 instead of 2 bytes per weight, and load faster. 'fast' stays
 * selectable. (`build` is kept for callers that pass it.)
 */
export function resolveInt4Memory(choice: Int4Memory | undefined, build: string): 'compact' | 'fast' {
  void build;
  const c = choice ?? 'auto';
  if (c === 'compact' || c === 'fast') return c;
  if (c !== 'auto') throw new VitguardError('E_INPUT', `int4Memory must be 'auto', 'compact' or 'fast', got ${JSON.stringify(c)}`);
  return 'compact';
}

// --- simulated: fake-quantized f32 weights, activations fake-quantized per token ---------------------------------

class SimLinear implements Linear {
  readonly kind = 'sim';
  readonly bytes: number;
  private readonly inner: Linear;
  private readonly copy: number;
  private readonly copyRow: number;
  private readonly wasm: WasmInstance;

  constructor(readonly spec: LinearSpec, ctx: LinearBuildContext, private readonly bits: number) {
    this.wasm = ctx.wasm;
    quantKernels(ctx.wasm);
    this.copy = scratch(ctx).q;
    this.copyRow = scratch(ctx).qRow;
    this.inner = F32_LINEAR.create(spec, ctx);
    this.bytes = this.inner.bytes;
  }

  run(inPtr: number, outPtr: number, rows: number): void {
    runCalls(this.wasm, this.calls(inPtr, outPtr, 0, rows, 0));
  }

  calls(inPtr: number, outPtr: number, r0: number, r1: number, t: number): KernelCall[] {
    // rows [r0, r1) at r0 · the widest row (see layout()); the f32 layer reads its rows at copy − r0·K·4 + r0·K·4
    const K = this.spec.inFeatures, rows = r1 - r0, copy = this.copy + r0 * this.copyRow;
    return [
      { op: 'act_quant', fn: 'copy_f32', args: [copy, inPtr + r0 * K * 4, rows * K] },
      { op: 'act_quant', fn: 'fake_quant_act_rows', args: [copy, rows, K, this.bits] },
      ...this.inner.calls!(copy - r0 * K * 4, outPtr, r0, r1, t),
    ];
  }
}

// --- kinds and schemes -------------------------------------------------------------------------------------------

/** The int8 edge layers of an int4 scheme: Q8_PC weights, dynamic per-token int8 activations (no act_scale). */
function int8EdgeScheme(s: QuantScheme): QuantScheme {
  return { ...s, name: 'w8a8', weightBits: 8, actBits: 8, group: 0, act: 'dynamic' };
}

function quantKind(name: string, scheme: QuantScheme): LinearKind {
  return {
    kind: name,
    tensors: (spec) => quantTensors(spec, scheme),
    create: (spec, ctx) => (scheme.weightBits === 8 ? new Q8Linear(spec, ctx, scheme) : new Q4Linear(spec, ctx, scheme)),
  };
}

/** An int4 kind whose layers quantize the first `a8Tokens` rows of every image at 8 bits (sdk/study's w4a4-oa). */
export function int4KindWithA8Tokens(info: SchemeInfo, a8Tokens: number): LinearKind {
  const scheme = checkScheme(info);
  if (scheme.weightBits !== 4) throw new VitguardError('E_SCHEME', `8-bit token rows apply to int4 schemes, not ${scheme.name}`);
  return {
    kind: `${scheme.name}+a8tokens`,
    tensors: (spec) => quantTensors(spec, scheme),
    create: (spec, ctx) => new Q4Linear(spec, ctx, scheme, a8Tokens),
  };
}

const BITS: Record<string, [number, number]> = { w8a8: [8, 8], w4a8: [4, 8], w4a16: [4, 32], w4a4: [4, 4] };

function checkScheme(info: SchemeInfo): QuantScheme {
  const s = schemeOf(info);
  if (!Array.isArray(s.layers)) throw new VitguardError('E_METADATA', `scheme ${s.name} has no layers list in the model metadata`);
  const bits = BITS[s.name];
  if (bits && (s.weightBits !== bits[0] || s.actBits !== bits[1])) {
    throw new VitguardError('E_METADATA', `scheme ${s.name} says weightBits ${s.weightBits}, actBits ${s.actBits}; expected ${bits[0]}, ${bits[1]}`);
  }
  if (s.int8Layers !== undefined && !(Array.isArray(s.int8Layers) && s.int8Layers.every((l) => typeof l === 'string'))) {
    throw new VitguardError('E_METADATA', `scheme ${s.name}: int8Layers must be a list of layer names, got ${JSON.stringify(s.int8Layers)}`);
  }
  if (s.act !== 'dynamic' && s.act !== 'static') throw new VitguardError('E_METADATA', `scheme act must be 'dynamic' or 'static', got ${JSON.stringify(s.act)}`);
  return s;
}

/** Register w8a8, w4a8, w4a16, w4a4 and sim with the engine (idempotent). */
export function registerQuantSchemes(): void {
  for (const name of Object.keys(BITS)) {
    registerScheme(name, (spec, info) => {
      const s = checkScheme(info);
      if (s.int8Layers?.includes(spec.name)) return quantKind('w8a8', int8EdgeScheme(s));
      return s.layers.includes(spec.name) ? quantKind(name, s) : F32_LINEAR;
    });
  }
  registerScheme('sim', (spec, info) => {
    const s = checkScheme(info);
    if (!s.layers.includes(spec.name) || s.actBits >= 32) return F32_LINEAR;
    if (!(Number.isInteger(s.actBits) && s.actBits >= 2 && s.actBits <= 8)) throw new VitguardError('E_METADATA', `sim scheme actBits must be 2..8 or 32, got ${s.actBits}`);
    return { kind: 'sim', tensors: F32_LINEAR.tensors, create: (sp, ctx) => new SimLinear(sp, ctx, s.actBits) };
  });
}

registerQuantSchemes();
