// Instruction ceilings for the per-op profile (bench/profile.ts): the register-only micro-kernels of
// assembly/ceiling.ts, what each counts as an operation, which GEMM kernel runs on which instruction, and a meter
// that times them between the profiled forwards. Free of Node, like bench/measure.ts.

import { VitguardError } from '../sdk/errors.js';
import { instantiate, loadWasmModule, type WasmBuild, type WasmSource } from '../sdk/engine/wasm.js';

export type CeilingName = 'f32_madd' | 'i16_dot' | 'i8_relaxed_dot';

export interface CeilingSpec {
  /** The export: fn(iters, arg) runs iters × ceiling_accumulators() instructions. */
  fn: string;
  /** Operations per instruction, counted as the GEMMs count them (a multiply-add = 2). */
  opsPerInstruction: number;
  /** The second argument while timing (the multiplier k). */
  arg: number;
  /** Only in the relaxed build. */
  relaxedOnly: boolean;
  instruction: string;
}

export const CEILINGS: Record<CeilingName, CeilingSpec> = {
  // 4 lanes × (multiply + add)
  f32_madd: { fn: 'ceiling_f32_madd', opsPerInstruction: 8, arg: 1, relaxedOnly: false, instruction: 'f32x4 mul+add (simd) / f32x4.relaxed_madd (relaxed)' },
  // 8 i16 products summed in pairs into 4 i32 lanes = 8 multiply-adds
  i16_dot: { fn: 'ceiling_i16_dot', opsPerInstruction: 16, arg: 2, relaxedOnly: false, instruction: 'i32x4.dot_i16x8_s + i32x4.add' },
  // 16 i8 × i7 products summed in fours into 4 i32 lanes = 16 multiply-adds
  i8_relaxed_dot: { fn: 'ceiling_i8_relaxed_dot', opsPerInstruction: 32, arg: 2, relaxedOnly: true, instruction: 'i32x4.relaxed_dot_i8x16_i7x16_add_s' },
};

/** Operations one call of a ceiling kernel does. */
export function ceilingOps(name: CeilingName, iters: number, accumulators: number): number {
  return iters * accumulators * CEILINGS[name].opsPerInstruction;
}

/** The instruction a kernel export's inner loop is built on (its ceiling), or null when not known. */
export function ceilingFor(fn: string, build: WasmBuild): CeilingName | null {
  switch (fn) {
    case 'gemm_f32':
    case 'gemm_f32_nt':
    case 'gemm_w4a16': // dequantizes a panel to f32, then gemm_f32's tile
    case 'attention_scores':
    case 'attention_scores_rows':
    case 'attention_pv':
    case 'attention_pv_rows':
    case 'attention':
      return 'f32_madd';
    case 'gemm_q8': // i16-resident weights on both builds
    case 'gemm_q4i16':
    case 'attention_q8_qk': // int8 attention: i16-widened operands, dot_i16x8_s on both builds
    case 'attention_q8_pv':
      return 'i16_dot';
    case 'gemm_q4': // nibbles unpacked in registers: relaxed dot on the relaxed build, dot_i16x8 on simd
      return build === 'relaxed' ? 'i8_relaxed_dot' : 'i16_dot';
    default:
      return null;
  }
}

type CeilingKernels = Record<string, (iters: number, arg: number) => number> & { ceiling_accumulators(): number; has_relaxed_simd(): number };

/** Times the ceiling kernels of one build: calibrate once, then one sample per sample() call, each ≈ targetMs. */
export class CeilingMeter {
  readonly samples = new Map<CeilingName, number[]>(); // GOP/s per sample
  private readonly iters = new Map<CeilingName, number>();
  private readonly names: CeilingName[];

  private constructor(private readonly k: CeilingKernels, readonly build: WasmBuild, private readonly now: () => number) {
    if (typeof k.ceiling_accumulators !== 'function') {
      throw new VitguardError('E_WASM', 'this wasm build has no ceiling_* kernels (assembly/ceiling.ts): rebuild it with `npm run build:wasm`');
    }
    this.names = (Object.keys(CEILINGS) as CeilingName[]).filter((n) => !CEILINGS[n].relaxedOnly || k.has_relaxed_simd() === 1);
  }

  /** now: the clock in ms (the profile's: wall or process CPU time). */
  static async create(build: WasmBuild, wasmSource?: WasmSource, now: () => number = () => performance.now(), targetMs = 4): Promise<CeilingMeter> {
    const inst = instantiate(await loadWasmModule(build, wasmSource), build);
    const m = new CeilingMeter(inst.kernels as unknown as CeilingKernels, build, now);
    m.calibrate(targetMs);
    return m;
  }

  private calibrate(targetMs: number): void {
    for (const n of this.names) {
      const { fn, arg } = CEILINGS[n];
      for (let w = 0; w < 20; w++) this.k[fn](2000, arg); // tier up (--no-liftoff compiles optimized at once)
      let iters = 4096;
      for (;;) {
        const t0 = this.now();
        this.k[fn](iters, arg);
        const ms = this.now() - t0;
        if (ms >= targetMs / 4 || iters >= 2 ** 28) {
          this.iters.set(n, Math.max(1, Math.round((iters * targetMs) / Math.max(ms, 1e-3))));
          break;
        }
        iters *= 2;
      }
    }
  }

  /** One timed call of each ceiling kernel (the order rotating with `round`). */
  sample(round = 0): void {
    const A = this.k.ceiling_accumulators();
    for (let j = 0; j < this.names.length; j++) {
      const n = this.names[(round + j) % this.names.length];
      const { fn, arg } = CEILINGS[n];
      const iters = this.iters.get(n)!;
      const t0 = this.now();
      this.k[fn](iters, arg);
      const ms = this.now() - t0;
      let s = this.samples.get(n);
      if (!s) this.samples.set(n, (s = []));
      s.push(ceilingOps(n, iters, A) / (ms * 1e6));
    }
  }

  /** Median GOP/s of each ceiling sampled so far. */
  medians(): Map<CeilingName, number> {
    const out = new Map<CeilingName, number>();
    for (const [n, s] of this.samples) {
      const sorted = [...s].sort((a, b) => a - b);
      const h = (sorted.length - 1) / 2;
      out.set(n, (sorted[Math.floor(h)] + sorted[Math.ceil(h)]) / 2);
    }
    return out;
  }
}
