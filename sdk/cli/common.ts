import { VitguardError } from '../errors.js';
import type { WasmChoice } from '../engine/index.js';

export function wasmChoice(v: string | boolean | undefined): WasmChoice {
  if (v === undefined) return 'auto';
  if (v === 'auto' || v === 'simd' || v === 'relaxed') return v;
  throw new VitguardError('E_USAGE', `--wasm must be auto, simd or relaxed, got ${String(v)}`);
}
