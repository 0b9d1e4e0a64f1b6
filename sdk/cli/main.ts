// The `vitguard` command: one sub-command per job; each lives in its own module under sdk/cli/.

import { VitguardError } from '../errors.js';

const COMMANDS: Record<string, { about: string; load: () => Promise<{ run: (argv: string[]) => Promise<number> }> }> = {
  demo: { about: 'classify a few real images (in- and out-of-distribution) with a shipped model', load: () => import('./demo.js') },
  convert: { about: 'timm checkpoint (.safetensors) → vitguard model', load: () => import('./convert.js') },
  'random-model': { about: 'write a timm-layout checkpoint with random weights at a real architecture\'s shapes', load: () => import('./random-model.js') },
  classify: { about: 'classify PNG/JPEG images', load: () => import('./classify.js') },
  accuracy: { about: 'top-1 accuracy of a model on a dataset spec', load: () => import('./accuracy.js') },
};

export const USAGE = `usage: vitguard <command> [options]\n\ncommands:\n${Object.entries(COMMANDS)
  .map(([k, v]) => `  ${k.padEnd(14)} ${v.about}`)
  .join('\n')}\n\nRun \`vitguard <command> --help\` for a command's options.`;

export function registerCommand(name: string, about: string, load: () => Promise<{ run: (argv: string[]) => Promise<number> }>): void {
  COMMANDS[name] = { about, load };
}

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
