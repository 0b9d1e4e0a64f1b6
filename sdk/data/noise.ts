// Seeded synthetic noise images (a standard far-OOD set). Pure.
// Image i depends only on (dist, seed, i, size), so a sample of N is the first N images of any longer run.
//   uniform:  every byte i.i.d. uniform on 0..255
//   gaussian: every byte round(127.5 + 64·z), z ~ N(0,1), clipped to 0..255 (mean 0.5, sd 0.25 in [0,1] units)

import { VitguardError } from '../errors.js';
import { gaussian, mixSeed, mulberry32 } from './random.js';
import type { NoiseSize } from './spec.js';

export const NOISE_DEFAULT_SIZE: NoiseSize = { width: 28, height: 28, channels: 1 };
export const NOISE_DEFAULT_COUNT = 1000;
export const NOISE_GAUSSIAN_MEAN = 127.5; // pixel units (0..255)
export const NOISE_GAUSSIAN_SD = 64; // pixel units

/** One noise image: width·height·channels bytes, row-major, channels interleaved. */
export function noiseImage(dist: 'gaussian' | 'uniform', size: NoiseSize, seed: number, index: number): Uint8Array {
  const { width, height, channels } = size;
  if (!(width > 0 && height > 0 && Number.isInteger(width) && Number.isInteger(height)) || ![1, 3, 4].includes(channels)) {
    throw new VitguardError('E_INPUT', `bad noise size ${width}×${height}×${channels}`);
  }
  const rand = mulberry32(mixSeed(seed, index, dist === 'gaussian' ? 0x6a55 : 0x0f11));
  const out = new Uint8Array(width * height * channels);
  if (dist === 'uniform') {
    for (let i = 0; i < out.length; i++) out[i] = Math.floor(rand() * 256);
  } else {
    const z = gaussian(rand);
    for (let i = 0; i < out.length; i++) {
      const v = Math.round(NOISE_GAUSSIAN_MEAN + NOISE_GAUSSIAN_SD * z());
      out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  if (channels === 4) for (let i = 3; i < out.length; i += 4) out[i] = 255; // opaque
  return out;
}
