// The `vitguard` command: one sub-command per job; each lives in its own module under sdk/cli/.

import { VitguardError } from '../errors.js';

const COMMANDS: Record<string, { about: string; load: () => Promise<{ run: (argv: string[]) => Promise<number> }> }> = {
  demo: { about: 'classify a few real images (in- and out-of-distribution) with a shipped model', load: () => import('./demo.js') },
  convert: { about: 'timm checkpoint (.safetensors) → vitguard model', load: () => import('./convert.js') },
  'random-model': { about: 'write a timm-layout checkpoint with random weights at a real architecture\'s shapes', load: () => import('./random-model.js') },
  classify: { about: 'classify PNG/JPEG images', load: () => import('./classify.js') },
  accuracy: { about: 'top-1 accuracy of a model on a dataset spec', load: () => import('./accuracy.js') },
  'fit-ood': { about: 'fit an OOD detector on ID images, threshold at 95 % ID TPR, store it in the model file', load: () => import('./fit-ood.js') },
  eval: { about: 'the study: accuracy and OOD metrics per model × scheme × score × OOD set, AUPR-out drop vs fp32', load: () => import('./eval.js') },
  sweep: { about: 'simulated 2..8-bit quantization: accuracy and AUPR-out against bits (JSON + SVG)', load: () => import('./sweep.js') },
  inspect: { about: 'outlier tokens per layer × scheme (norms, massive activations, attention sinks), attention heatmaps', load: () => import('./inspect.js') },
  quantize: { about: 'quantize a model: w8a8, w4a8, w4a16, w4a4 (int8 / int4 weights, int8 / int4 activations), w4a4-oa, w4a8-oa (outlier-aware)', load: () => import('./quantize.js') },
};

export const USAGE = `usage: vitguard <command> [options]\n\ncommands:\n${Object.entries(COMMANDS)
  .map(([k, v]) => `  ${k.padEnd(14)} ${v.about}`)
  .join('\n')}\n\nRun \`vitguard <command> --help\` for a command's options.`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(USAGE);
    return cmd ? 0 : 1;
  }
  const entry = COMMANDS[cmd];
  if (!entry) throw new VitguardError('E_USAGE', `unknown command "${cmd}"\n${USAGE}`);
  return (await entry.load()).run(rest);
}
