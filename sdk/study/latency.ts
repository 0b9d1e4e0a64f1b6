// Batch-1 forward latency of several schemes of one model, interleaved (scheme A, B, C, A, B, C, ...) so that the
// noise of a shared machine falls on all of them alike; medians after warm-up. Same engine, same input.

import { Engine, type AttentionMode, type WasmChoice } from '../engine/index.js';
import type { ModelFile } from '../format/model.js';
import { attentionLabel, modelForScheme, type SchemeBuildOptions } from './schemes.js';

export interface LatencyRow { scheme: string; medianMs: number; runs: number; wasm: string }

/**
 * attention: the attention paths, each scheme once per path, interleaved with the rest; the int8 path's rows are named
 * `<scheme>+attn_int8` (as eval's rows). Default: the engine's (f32).
 */
export async function benchSchemes(fp32: ModelFile, schemes: string[], opts: { runs?: number; warmup?: number; wasm?: WasmChoice; build?: SchemeBuildOptions; attention?: AttentionMode[] } = {}): Promise<LatencyRow[]> {
  const runs = opts.runs ?? 30, warmup = opts.warmup ?? 10;
  const engines: Engine[] = [];
  const names: string[] = [];
  try {
    for (const s of schemes) {
      const file = await modelForScheme(fp32, s, { ...opts.build, wasm: opts.wasm });
      for (const attention of opts.attention ?? ['f32']) {
        engines.push(await Engine.create(file, { wasm: opts.wasm, attention }));
        names.push(attentionLabel(s, attention));
      }
    }
    const c = fp32.meta.config;
    const x = new Float32Array(c.inChans * c.imgSize * c.imgSize);
    for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.1); // no denormals
    const times = names.map(() => [] as number[]);
    for (let r = 0; r < warmup + runs; r++) {
      engines.forEach((e, j) => {
        const t0 = performance.now();
        e.forward(x);
        if (r >= warmup) times[j].push(performance.now() - t0);
      });
    }
    return names.map((s, j) => {
      const t = times[j].sort((a, b) => a - b);
      return { scheme: s, medianMs: t[t.length >> 1], runs, wasm: engines[j].wasm };
    });
  } finally {
    for (const e of engines) e.dispose();
  }
}
