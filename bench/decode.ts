// Decode time and peak memory, old decoders against new, on the images of issue 11: a 12-megapixel phone JPEG
// (baseline and progressive) and the two PNG decompression bombs (8000×8000 in 62 KB, 20000×20000 in 390 KB).
//
//   npm run bench:decode                 # every case, a table
//   npm run bench:decode -- --json       # one JSON line per case
//   npm run bench:decode -- --runs 3     # median time of 3 fresh processes per case (memory: the largest)
//   npm run bench:decode -- --files /tmp/photo.png,/tmp/big.jpg --modes old,28px   # other images, some modes
//
// Each case runs in a fresh Node process (so peak RSS belongs to that one decode): it reads the file, decodes once,
// and reports the wall time of the decode and the process's peak resident set (process.resourceUsage().maxRSS).
// "node" is the same process without decoding (reading the file only): subtract it for what the decode added.
//   old      npm fast-png / jpeg-js, whole image at full size (what vitguard used before; test/image/legacy-decode.ts)
//   full     sdk/image decodeImage at full size (no minShortSide), default limits
//   28px     decodeImage({ minShortSide: 28 }): what a 28×28 model (the shipped ones, cropPct 1) asks for
//   224px    decodeImage({ minShortSide: 248 }): a 224-px model with cropPct 0.9
//   edge     28px under EDGE_IMAGE_LIMITS (the Cloudflare demo's limits)
// A refused image reports its error code and how long the refusal took.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeImage, EDGE_IMAGE_LIMITS, type DecodeOptions } from '../sdk/image/decode.js';
import { legacyDecode } from '../test/image/legacy-decode.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const IMAGES = resolve(HERE, '../../test/fixtures/images'); // lib/bench → repo/test/fixtures/images
const FILES = ['phone-4000x3000.jpg', 'phone-4000x3000-progressive.jpg', 'bomb-8000.png', 'bomb-20000.png'];
const MODES: Record<string, DecodeOptions | 'old' | 'node'> = {
  node: 'node',
  old: 'old',
  full: {},
  '28px': { minShortSide: 28 },
  '224px': { minShortSide: 248 },
  edge: { minShortSide: 28, ...EDGE_IMAGE_LIMITS },
};

interface One { file: string; mode: string; ms: number; maxRssMB: number; result: string }

/** The child: one decode, one JSON line. */
function one(file: string, mode: string): One {
  const bytes = new Uint8Array(readFileSync(resolve(IMAGES, file))); // a fixture name, or a path of its own
  const how = MODES[mode];
  const t = performance.now();
  let result: string;
  try {
    if (how === 'node') result = `${bytes.length} bytes read`;
    else {
      const d = how === 'old' ? legacyDecode(bytes) : decodeImage(bytes, how);
      result = `${d.width}×${d.height}`;
    }
  } catch (e) {
    result = (e as { code?: string }).code ?? `${(e as Error).name}: ${(e as Error).message.slice(0, 60)}`;
  }
  const ms = performance.now() - t;
  return { file, mode, ms, maxRssMB: process.resourceUsage().maxRSS / 1024, result };
}

function main(): void {
  const argv = process.argv.slice(2);
  if (argv[0] === '--one') {
    console.log(JSON.stringify(one(argv[1], argv[2])));
    return;
  }
  const json = argv.includes('--json');
  const runsAt = argv.indexOf('--runs');
  const runs = runsAt >= 0 ? Math.max(1, Number(argv[runsAt + 1])) : 1;
  const listed = (flag: string) => { const i = argv.indexOf(flag); return i >= 0 ? argv[i + 1].split(',') : null; };
  const files = listed('--files') ?? FILES;
  const modes = listed('--modes') ?? Object.keys(MODES);
  for (const m of modes) if (!(m in MODES)) throw new Error(`unknown mode ${m}: ${Object.keys(MODES).join(', ')}`);
  const self = fileURLToPath(import.meta.url);
  if (!json) console.log(`${'file'.padEnd(32)} ${'mode'.padEnd(6)} ${'ms'.padStart(7)} ${'peak RSS MB'.padStart(12)}  result`);
  for (const file of files) {
    for (const mode of modes) {
      const got: One[] = [];
      for (let r = 0; r < runs; r++) {
        const p = spawnSync(process.execPath, [self, '--one', resolve(file.includes('/') ? process.cwd() : IMAGES, file), mode], { encoding: 'utf8', maxBuffer: 1 << 20 });
        if (p.status !== 0) throw new Error(`${file} ${mode}: child failed (${p.status}): ${p.stderr.slice(-400)}`);
        got.push(JSON.parse(p.stdout.trim().split('\n').pop()!));
      }
      const ms = got.map((g) => g.ms).sort((a, b) => a - b)[Math.floor(got.length / 2)];
      const row = { file: file.split('/').pop()!, mode, ms: Math.round(ms), maxRssMB: Math.round(Math.max(...got.map((g) => g.maxRssMB))), result: got[0].result, runs };
      if (json) console.log(JSON.stringify(row));
      else console.log(`${row.file.padEnd(32)} ${mode.padEnd(6)} ${String(row.ms).padStart(7)} ${String(row.maxRssMB).padStart(12)}  ${row.result}`);
    }
  }
}

main();
