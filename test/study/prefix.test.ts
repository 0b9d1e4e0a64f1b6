// inspect's prefix-token measures: the class token's and the registers' norms and attention share beside the patches'.
import { describe, expect, it } from 'vitest';
import { Engine } from '../../sdk/engine/index.js';
import type { ViTConfig } from '../../sdk/format/model.js';
import { inspectMarkdown, layerStats, prefixStats, runInspect } from '../../sdk/study/inspect.js';
import { randomModel, TINY } from '../engine/models.js';

describe('prefix-token measures', () => {
  it('hand-made attention: the shares each key receives, registers summed, sinks counted per head', () => {
    // class token + 2 registers + 4 patches (grid 2): T = 7, 2 heads
    const c: ViTConfig = { imgSize: 8, patch: 4, inChans: 1, dim: 4, depth: 1, heads: 2, mlpHidden: 8, numClasses: 2, distilled: false, layerScale: false, noEmbedClass: false, eps: 1e-6, regTokens: 2 };
    const T = 7, H = 2;
    const A = new Float32Array(H * T * T);
    for (let i = 0; i < T; i++) {
      A[i * T + 2] = 1; // head 0: every query attends to register 2 (token index 2)
      A[(T + i) * T + 0] = 0.5; // head 1: half to the class token, half spread over the 4 patches
      for (let k = 3; k < 7; k++) A[(T + i) * T + k] = 0.125;
    }
    const norms = Float32Array.from([10, 50, 30, 1, 2, 3, 4]);
    const [s] = prefixStats({ logits: new Float32Array(2), feature: new Float32Array(4), attention: [A], tokenNorms: [norms] }, c);
    expect(s.clsNorm).toBe(10);
    expect(s.regNorm).toBe(40);
    expect(s.patchNorm).toBe(2.5);
    expect(s.clsAttn).toBeCloseTo(0.25, 7); // (0 + 0.5) / 2 heads
    expect(s.regAttn).toBeCloseTo(0.5, 7); // (1 + 0) / 2
    expect(s.sinkIsReg).toBe(0.5); // head 0's top key is a register, head 1's the class token
  });

  it('engine output: shares of class, registers and patches add up to 1; a model without registers or class token says null', async () => {
    for (const config of [TINY.vit_reg, TINY.reg_gap, TINY.vit]) {
      const { file } = randomModel(config, 31);
      const e = await Engine.create(file, { wasm: 'simd' });
      const r = e.forward(new Float32Array(config.inChans * config.imgSize ** 2).map((_, i) => Math.sin(i * 0.31)), { attention: true, tokenNorms: true, hidden: true });
      e.dispose();
      const P = (config.imgSize / config.patch) ** 2;
      const stats = prefixStats(r, config);
      expect(stats).toHaveLength(config.depth);
      stats.forEach((s, l) => {
        const A = r.attention![l];
        const T = Math.sqrt(A.length / config.heads);
        // what the patches receive, summed independently
        let patches = 0;
        for (let h = 0; h < config.heads; h++) for (let i = 0; i < T; i++) for (let k = T - P; k < T; k++) patches += A[(h * T + i) * T + k];
        patches /= config.heads * T;
        expect((s.clsAttn ?? 0) + (s.regAttn ?? 0) + patches).toBeCloseTo(1, 5);
        expect(s.regNorm === null).toBe(!config.regTokens);
        expect(s.clsNorm === null).toBe(config.classToken === false);
      });
      if (config.classToken === false) expect(layerStats(r, config).every((s) => s.sinkIsCls === 0)).toBe(true);
    }
  });

  it('inspect over two models: each result carries prefix rows, and the markdown compares them per scheme', async () => {
    const models = [['with-registers', TINY.vit_reg], ['plain', TINY.vit]] as const;
    const results = [];
    for (const [name, config] of models) {
      results.push(await runInspect({ model: { name, file: randomModel(config, 41).file }, data: ['noise:gaussian:6'], schemes: ['fp32', 'w8a8'], wasm: 'simd' }));
    }
    expect(results[0].layers).toHaveLength(2 * TINY.vit_reg.depth);
    expect(results[0].layers[0].prefix.regAttn).toBeGreaterThan(0);
    expect(results[1].layers[0].prefix.regAttn).toBeNull();
    const md = inspectMarkdown(results);
    const rows = md.split('\n').filter((l) => /^\| (with-registers|plain) \|/.test(l));
    expect(rows).toHaveLength(4);
    expect(rows[0]).toMatch(/^\| with-registers \| fp32 \|/);
    expect(rows[2].split('|').map((c) => c.trim())[8]).toBe('—'); // the plain model has no registers
  });
});
