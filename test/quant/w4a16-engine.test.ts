// w4a16 through the engine computes exactly gemm_f32 on the dequantized weights (w = f32(q)·scale, same summation
// order on the simd build), so its logits must equal, bit for bit, those of an fp32 model holding those weights.
// This catches anything that disturbs the kernel's panel scratch or its neighbours in wasm memory.
import { describe, expect, it } from 'vitest';
import { Engine } from '../../sdk/engine/index.js';
import { convertCheckpoint } from '../../sdk/model/convert.js';
import { randomCheckpoint } from '../../sdk/model/random.js';
import { readModel, type ModelFile, type ViTConfig } from '../../sdk/format/model.js';
import { f32Tensor, writeSafetensors } from '../../sdk/format/safetensors.js';
import { dequantizeQ4, quantizeModel, readQ4 } from '../../sdk/quant/index.js';

const config: ViTConfig = {
  imgSize: 32, patch: 4, inChans: 3, dim: 64, depth: 2, heads: 4, mlpHidden: 192, numClasses: 10,
  distilled: false, layerScale: true, noEmbedClass: true, eps: 1e-6,
};

describe('w4a16 in the engine', () => {
  it('equals the fp32 engine on the dequantized weights, bit for bit (simd), at batch 1 and 3', async () => {
    const fp32 = readModel(convertCheckpoint(writeSafetensors(randomCheckpoint(config, 21)), { heads: 4, eps: 1e-6, mean: [0.5], std: [0.5], cropPct: 1, interpolation: 'bilinear' }).bytes);
    const q = quantizeModel(fp32, { scheme: 'w4a16', edges: 'fp32' });
    const tensors = new Map(fp32.tensors);
    for (const layer of q.meta.scheme.layers as string[]) {
      const w = dequantizeQ4(readQ4(layer, q.tensors.get(`${layer}.weight.q`)!, q.tensors.get(`${layer}.weight.scale`)!));
      tensors.set(`${layer}.weight`, f32Tensor(fp32.tensors.get(`${layer}.weight`)!.shape, w));
    }
    const deq: ModelFile = { ...fp32, tensors };
    const a = await Engine.create(q, { wasm: 'simd', maxBatch: 3 });
    const b = await Engine.create(deq, { wasm: 'simd', maxBatch: 3 });
    const x = new Float32Array(3 * 3 * 32 * 32).map((_, i) => Math.sin(i * 0.37));
    for (const n of [1, 3]) {
      const ra = a.forwardBatch(x.subarray(0, n * 3 * 32 * 32), n);
      const rb = b.forwardBatch(x.subarray(0, n * 3 * 32 * 32), n);
      for (let i = 0; i < n; i++) {
        expect(Array.from(ra[i].logits)).toEqual(Array.from(rb[i].logits));
        expect(Array.from(ra[i].feature)).toEqual(Array.from(rb[i].feature));
      }
    }
  });
});
