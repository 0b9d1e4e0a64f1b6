// A tiny random model at Fashion-MNIST's input (28×28×1) for the study tests.
import { encodeMeta, readModel, type ModelFile, type ViTConfig } from '../../sdk/format/model.js';
import { writeSafetensors } from '../../sdk/format/safetensors.js';
import { randomCheckpoint } from '../../sdk/model/random.js';

export const TINY_FMNIST: ViTConfig = {
  imgSize: 28, patch: 7, inChans: 1, dim: 32, depth: 2, heads: 2, mlpHidden: 64, numClasses: 10,
  distilled: false, layerScale: false, noEmbedClass: false, eps: 1e-6,
};

export function tinyModel(seed = 1, config: ViTConfig = TINY_FMNIST): ModelFile {
  const meta = encodeMeta({
    arch: 'tiny_fmnist', config,
    labels: Array.from({ length: config.numClasses }, (_, i) => `c${i}`),
    preprocessing: { mean: [0.5], std: [0.5], cropPct: 1, interpolation: 'bilinear' },
    scheme: { name: 'fp32' }, extra: {},
  });
  return readModel(writeSafetensors(randomCheckpoint(config, seed), meta));
}
