// The models and the input the parity test uses, built the same way in the test process and in the relaxed-SIMD
// child: random timm-layout checkpoints at real shapes (seeded) written as vitguard model files.

import { encodeMeta, type ModelMeta, type ViTConfig } from '../../sdk/format/model.js';
import { writeSafetensors, type Tensor } from '../../sdk/format/safetensors.js';
import { configForArch, defaultPreprocessing, imagenetLabels } from '../../sdk/model/arch.js';
import { gaussian, mulberry32, randomCheckpoint } from '../../sdk/model/random.js';

export const PARITY_ARCHS = [
  'deit_tiny_patch16_224', 'deit_tiny_distilled_patch16_224', 'deit3_small_patch16_224',
  'deit_tiny_reg4_patch16_224', // deit_tiny + 4 registers with position embeddings, class-token head
  'vit_little_patch16_reg4_gap_256', // timm's: no class token, 4 registers, layer scale, mean of the patches → fc_norm
] as const;

/** Parity models that are not timm zoo names: a zoo config with the register / pooling fields set. */
const CUSTOM: Record<string, () => ViTConfig> = {
  deit_tiny_reg4_patch16_224: () => ({ ...configForArch('deit_tiny_patch16_224'), regTokens: 4 }),
};

export interface ParityModel {
  arch: string;
  config: ViTConfig;
  tensors: Map<string, Tensor>;
  file: Uint8Array; // the vitguard model file (safetensors + metadata)
  pixels: Float32Array; // [C, S, S] standard normal, as a normalised image would be
}

export function parityModel(arch: string, seed = 7): ParityModel {
  const config = CUSTOM[arch]?.() ?? configForArch(arch);
  const tensors = randomCheckpoint(config, seed);
  const meta: ModelMeta = {
    arch, config, labels: imagenetLabels(config.numClasses), preprocessing: defaultPreprocessing(CUSTOM[arch] ? 'deit_tiny_patch16_224' : arch), scheme: { name: 'fp32' }, extra: {},
  };
  const randn = gaussian(mulberry32(seed + 1));
  const pixels = Float32Array.from({ length: config.inChans * config.imgSize * config.imgSize }, () => randn());
  return { arch, config, tensors, file: writeSafetensors(tensors, encodeMeta(meta)), pixels };
}
