// Tiny random models of each family, as vitguard model files, for engine tests.

import { encodeMeta, readModel, type ModelFile, type ViTConfig } from '../../sdk/format/model.js';
import { writeSafetensors, type Tensor } from '../../sdk/format/safetensors.js';
import { randomCheckpoint } from '../../sdk/model/random.js';

export const TINY: Record<'vit' | 'deit_distilled' | 'deit3' | 'vit_odd' | 'vit_reg' | 'reg_gap' | 'gap_norm', ViTConfig> = {
  vit: { imgSize: 32, patch: 8, inChans: 3, dim: 48, depth: 2, heads: 3, mlpHidden: 96, numClasses: 10, distilled: false, layerScale: false, noEmbedClass: false, eps: 1e-6 },
  deit_distilled: { imgSize: 32, patch: 8, inChans: 3, dim: 48, depth: 2, heads: 3, mlpHidden: 192, numClasses: 7, distilled: true, layerScale: false, noEmbedClass: false, eps: 1e-6 },
  deit3: { imgSize: 24, patch: 4, inChans: 3, dim: 36, depth: 3, heads: 2, mlpHidden: 72, numClasses: 5, distilled: false, layerScale: true, noEmbedClass: true, eps: 1e-5 },
  // every width off the SIMD grain: C·P·P = 18, dim 30, head dim 10, hidden 45, 3 classes, T = 10
  vit_odd: { imgSize: 9, patch: 3, inChans: 2, dim: 30, depth: 2, heads: 3, mlpHidden: 45, numClasses: 3, distilled: false, layerScale: false, noEmbedClass: false, eps: 1e-6 },
  // class token + 2 registers, all with position embeddings (pos_embed [1, 2+1+16, D]), class-token head
  vit_reg: { imgSize: 32, patch: 8, inChans: 3, dim: 48, depth: 2, heads: 3, mlpHidden: 96, numClasses: 6, distilled: false, layerScale: false, noEmbedClass: false, eps: 1e-6, regTokens: 2 },
  // timm's vit_*_reg4_gap: no class token, 3 registers without position embedding, layer scale, mean of the patches → fc_norm
  reg_gap: { imgSize: 24, patch: 4, inChans: 3, dim: 36, depth: 2, heads: 2, mlpHidden: 72, numClasses: 5, distilled: false, layerScale: true, noEmbedClass: true, eps: 1e-6, regTokens: 3, classToken: false, globalPool: 'avg', fcNorm: true },
  // class token kept but unused: `norm` on every patch row, then their mean (global_pool 'avg', fc_norm False)
  gap_norm: { imgSize: 16, patch: 4, inChans: 3, dim: 32, depth: 2, heads: 4, mlpHidden: 64, numClasses: 4, distilled: false, layerScale: false, noEmbedClass: false, eps: 1e-5, globalPool: 'avg', fcNorm: false },
};

export function modelBytes(config: ViTConfig, tensors: Map<string, Tensor>, arch = 'test_model', scheme = 'fp32'): Uint8Array {
  const meta = encodeMeta({
    arch,
    config,
    labels: Array.from({ length: config.numClasses }, (_, i) => `c${i}`),
    preprocessing: { mean: Array(config.inChans).fill(0.5), std: Array(config.inChans).fill(0.5), cropPct: 1, interpolation: 'bilinear' },
    scheme: { name: scheme },
    extra: {},
  });
  return writeSafetensors(tensors, meta);
}

export function randomModel(config: ViTConfig, seed = 1): { file: ModelFile; bytes: Uint8Array; tensors: Map<string, Tensor> } {
  const tensors = randomCheckpoint(config, seed);
  const bytes = modelBytes(config, tensors);
  return { file: readModel(bytes), bytes, tensors };
}
