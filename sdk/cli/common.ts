import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { VitguardError } from '../errors.js';
import type { AttentionMode, WasmChoice } from '../engine/index.js';
import { readModel, type ModelFile } from '../format/model.js';

export function wasmChoice(v: string | boolean | undefined): WasmChoice {
  if (v === undefined) return 'auto';
  if (v === 'auto' || v === 'simd' || v === 'relaxed') return v;
  throw new VitguardError('E_USAGE', `--wasm must be auto, simd or relaxed, got ${String(v)}`);
}

/** --attention f32,int8 → the attention paths (EngineOptions.attention), in order, once each; absent = ['f32']. */
export function attentionList(v: string | boolean | undefined): AttentionMode[] {
  if (v === undefined) return ['f32'];
  const list = [...new Set(String(v).split(',').map((x) => x.trim()).filter(Boolean))];
  if (!list.length) throw new VitguardError('E_USAGE', '--attention is empty: give f32, int8 or f32,int8');
  for (const a of list) if (a !== 'f32' && a !== 'int8') throw new VitguardError('E_USAGE', `--attention takes f32 and/or int8, got "${a}"`);
  return list as AttentionMode[];
}

/** A model file read from `path`, named for reports by its file name without `.safetensors`. */
export function namedModel(path: string): { name: string; file: ModelFile } {
  return { name: basename(path).replace(/\.safetensors$/, ''), file: readModel(new Uint8Array(readFileSync(path))) };
}
