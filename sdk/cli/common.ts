import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { VitguardError } from '../errors.js';
import type { WasmChoice } from '../engine/index.js';
import { readModel, type ModelFile } from '../format/model.js';

export function wasmChoice(v: string | boolean | undefined): WasmChoice {
  if (v === undefined) return 'auto';
  if (v === 'auto' || v === 'simd' || v === 'relaxed') return v;
  throw new VitguardError('E_USAGE', `--wasm must be auto, simd or relaxed, got ${String(v)}`);
}

/** A model file read from `path`, named for reports by its file name without `.safetensors`. */
export function namedModel(path: string): { name: string; file: ModelFile } {
  return { name: basename(path).replace(/\.safetensors$/, ''), file: readModel(new Uint8Array(readFileSync(path))) };
}
