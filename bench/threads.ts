// Threads on a shared machine: what N threads give now, and what they would give on N free cores.
//
//   npx tsc -p tsconfig.build.json && node --no-liftoff lib/bench/threads.js [--arch deit_tiny_patch16_224]
//     [--scheme fp32,w8a8] [--wasm simd] [--threads 2] [--runs 20] [--warmup 10]
//   (relaxed: node --experimental-wasm-relaxed-simd --no-liftoff lib/bench/threads.js --wasm relaxed)
//
// Per scheme, in this one process, interleaved after warm-up:
//   wall_1t, wall_nt   medians of a forward on 1 thread and on N threads (wall clock): what the machine gives now —
//                      on a machine whose cores are busy with other work, N threads wait at every region for a core;
//   cpu_1t             the 1-thread forward on this process's CPU clock (the work);
//   critical_nt        the N-thread forward's critical path on the CPU clock: every region's per-thread call lists
//                      (the ones the pool runs) run one after the other on this thread, each timed, and the slowest
//                      thread of each region summed — what N free cores would take, load imbalance included,
//                      the pool's wake-ups and waits not (they are µs per region on free cores).
// One JSON line per scheme: {"threads":N,"arch","scheme","wasm","wall_1t_ms","wall_nt_ms","wall_ratio","cpu_1t_ms",
//   "critical_nt_ms","critical_ratio","regions","load":[1 min, after]}.

import { loadavg } from 'node:os';
import { Engine } from '../sdk/engine/index.js';
import { callKernel, type Executor, type Region } from '../sdk/engine/program.js';
import { perThread } from '../sdk/engine/threads.js';
import type { Kernels } from '../sdk/engine/wasm.js';
import type { SchemeName } from '../sdk/quant/index.js';
import { benchModel, schemeFile } from './measure.js';

const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const median = (a: number[]) => a.slice().sort((x, y) => x - y)[a.length >> 1];

/** Runs each region's per-thread lists one after the other here, adding the slowest thread's CPU time per region. */
class CriticalPath implements Executor {
  ms = 0;
  regions = 0;
  constructor(private readonly k: Kernels, readonly threads: number) {}
  run(region: Region): void {
    const lists = region.serial ? [perThread(region, 1)[0]] : perThread(region, this.threads);
    let worst = 0;
    for (const l of lists) {
      const t0 = cpuMs();
      for (const c of l) callKernel(this.k, c);
      worst = Math.max(worst, cpuMs() - t0);
    }
    this.ms += worst;
    this.regions++;
  }
}

type Internals = { state: { exec: Executor; inst: { kernels: Kernels } } };

async function main(argv: string[]): Promise<void> {
  const arg = (name: string, dflt: string) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : dflt; };
  const arch = arg('arch', 'deit_tiny_patch16_224');
  const schemes = arg('scheme', 'fp32,w8a8').split(',') as SchemeName[];
  const wasm = arg('wasm', 'simd') as 'simd' | 'relaxed';
  const N = Number(arg('threads', '2')), runs = Number(arg('runs', '20')), warmup = Number(arg('warmup', '10'));
  const m = benchModel(arch, 0);
  const load0 = loadavg()[0];
  for (const scheme of schemes) {
    const bytes = schemeFile(m, scheme);
    const one = await Engine.create(bytes, { wasm });
    const many = await Engine.create(bytes, { wasm, threads: N });
    if (many.threads.used !== N) throw new Error(`${N} threads asked, ${many.threads.used} ran: ${many.threads.reason}`);
    const probe = await Engine.create(bytes, { wasm, threads: N }); // scratch for N threads; its regions run here
    const st = (probe as unknown as Internals).state;
    const cp = new CriticalPath(st.inst.kernels, N);
    st.exec = cp;
    for (let w = 0; w < warmup; w++) { one.forward(m.chw); many.forward(m.chw); probe.forward(m.chw); }
    const wall1: number[] = [], wallN: number[] = [], cpu1: number[] = [], crit: number[] = [];
    for (let r = 0; r < runs; r++) {
      const order = r % 2 ? [0, 1, 2] : [2, 1, 0];
      for (const o of order) {
        if (o === 0) {
          const t0 = performance.now(), c0 = cpuMs();
          one.forward(m.chw);
          wall1.push(performance.now() - t0);
          cpu1.push(cpuMs() - c0);
        } else if (o === 1) {
          const t0 = performance.now();
          many.forward(m.chw);
          wallN.push(performance.now() - t0);
        } else {
          cp.ms = 0;
          cp.regions = 0;
          probe.forward(m.chw);
          crit.push(cp.ms);
        }
      }
    }
    const line = {
      threads: N, arch, scheme, wasm,
      wall_1t_ms: +median(wall1).toFixed(2), wall_nt_ms: +median(wallN).toFixed(2), wall_ratio: +(median(wallN) / median(wall1)).toFixed(3),
      cpu_1t_ms: +median(cpu1).toFixed(2), critical_nt_ms: +median(crit).toFixed(2), critical_ratio: +(median(crit) / median(cpu1)).toFixed(3),
      regions: cp.regions, load: [+load0.toFixed(2), +loadavg()[0].toFixed(2)],
    };
    process.stdout.write(JSON.stringify(line) + '\n');
    one.dispose(); many.dispose(); probe.dispose();
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`threads bench: ${(e as Error).message}\n`);
  process.exit(1);
});
