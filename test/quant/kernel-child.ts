// Child process of kernels.test.ts: runs the kernel battery on one wasm file and prints {digests} as one JSON line.
//   node --experimental-wasm-relaxed-simd --no-liftoff --import ./test/parity/ts-register.mjs test/quant/kernel-child.ts FILE.wasm [relaxed]
// `relaxed`: gemm_w4a16 is held to w4a16Tolerance against its ref instead of bit equality (relaxed_madd may fuse).
// (Node 20 has relaxed SIMD only behind that flag, and its Liftoff tier miscomputes the relaxed dot: FACTS.md.)

import { readFileSync } from 'node:fs';
import { Kernels, runBattery } from './kernels.js';

const k = new Kernels(new Uint8Array(readFileSync(process.argv[2])));
k.exactW4A16 = process.argv[3] !== 'relaxed';
process.stdout.write(JSON.stringify({ digests: runBattery(k) }) + '\n');
