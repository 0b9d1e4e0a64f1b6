// Random timm-layout checkpoints at real shapes, for benchmarks and parity tests (no pretrained weights here).
// Deterministic for a seed. Values are kept O(1) where it matters (norm gains near 1, layer scales 0.1..1) so every
// part of the graph changes the output, and never denormal.

import type { ViTConfig } from '../format/model.js';
import { f32Tensor, type Tensor } from '../format/safetensors.js';
import { expectedTensors } from './arch.js';
import { gaussian, mulberry32 } from '../data/random.js';

export { gaussian, mulberry32 } from '../data/random.js';

export function randomCheckpoint(config: ViTConfig, seed = 0): Map<string, Tensor> {
  const randn = gaussian(mulberry32(seed));
  const out = new Map<string, Tensor>();
  for (const [name, shape] of expectedTensors(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const leaf = name.split('.').slice(-2).join('.');
    if (/norm\d?\.weight$/.test(name) || name === 'norm.weight') {
      for (let i = 0; i < n; i++) data[i] = 1 + 0.1 * randn();
    } else if (name.endsWith('gamma')) {
      for (let i = 0; i < n; i++) data[i] = 0.1 + 0.9 * Math.abs(Math.tanh(randn()));
    } else if (name.endsWith('weight')) {
      // fan-in scaled so activations stay O(1) through depth: std = 1/sqrt(fan_in)
      const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
      const std = 1 / Math.sqrt(fanIn);
      for (let i = 0; i < n; i++) data[i] = std * randn();
    } else {
      // biases, tokens, position embeddings
      const std = leaf.endsWith('bias') ? 0.02 : name === 'pos_embed' ? 0.1 : 0.5;
      for (let i = 0; i < n; i++) data[i] = std * randn();
    }
    out.set(name, f32Tensor(shape, data));
  }
  return out;
}
