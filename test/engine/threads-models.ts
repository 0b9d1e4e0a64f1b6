// The models the thread tests run: one small random ViT (odd token count, 4 heads, widths that int4 groups of 32
// divide) in every scheme, and seeded images. Shared by threads.test.ts and its relaxed-SIMD child (threads-child.ts).

import { encodeMeta, readModel, type ViTConfig } from '../../sdk/format/model.js';
import { writeSafetensors } from '../../sdk/format/safetensors.js';
import { gaussian, mulberry32 } from '../../sdk/model/random.js';
import { probeInputStats } from '../../sdk/quant/calibrate.js';
import { quantizeModel, quantizeOutlierAware, type SchemeName } from '../../sdk/quant/index.js';
import { modelBytes, randomModel } from './models.js';

/** T = 17 tokens (not a multiple of the 4-row tile), 4 heads, K = 64 / 128 / 192. */
export const THREAD_CONFIG: ViTConfig = { imgSize: 32, patch: 8, inChans: 3, dim: 64, depth: 2, heads: 4, mlpHidden: 128, numClasses: 10, distilled: false, layerScale: false, noEmbedClass: false, eps: 1e-6 };

export const THREAD_SCHEMES = ['fp32', 'w8a8', 'w4a8', 'w4a16', 'w4a4', 'w4a4-oa'] as const;
export type ThreadScheme = (typeof THREAD_SCHEMES)[number];

/** n seeded images [n, 3, 32, 32]. */
export function threadImages(n: number, seed = 5): Float32Array {
  const randn = gaussian(mulberry32(seed));
  return Float32Array.from({ length: n * 3 * 32 * 32 }, () => randn());
}

export async function threadModel(scheme: ThreadScheme): Promise<Uint8Array> {
  const { file, tensors } = randomModel(THREAD_CONFIG, 11);
  if (scheme === 'fp32') return modelBytes(THREAD_CONFIG, tensors);
  if (scheme === 'w4a4-oa') {
    const stats = await probeInputStats(file, threadImages(4, 9), 4, { wasm: 'simd' });
    const q = quantizeOutlierAware(file, 'w4a4-oa', stats);
    return writeSafetensors(q.tensors, q.metadata);
  }
  const q = quantizeModel(file, { scheme: scheme as SchemeName });
  const bytes = writeSafetensors(q.tensors, encodeMeta(q.meta));
  readModel(bytes);
  return bytes;
}
