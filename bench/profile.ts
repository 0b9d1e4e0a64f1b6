// The per-op profile (`npm run bench -- --profile`): each op kind of one forward timed kernel call by kernel call
// (sdk/engine/program.ts ProfilingExecutor), per scheme and wasm build, and each GEMM's throughput beside the
// instruction ceiling of its inner loop measured by a register-only micro-kernel (assembly/ceiling.ts) in the same
// process, interleaved with the forwards so both see the same machine. Free of Node, like bench/measure.ts.
//
// A profile line (one per contestant × op, then one op "total"):
//   {"profile":true,"arch","scheme","wasm","threads","attention"?,"op","clock","ms","share","calls"
//    [,"kernel","gops","ceiling","ceiling_gops","pct_of_ceiling"]}
// clock: what ms measures — 'wall' (performance.now) or 'cpu' (the process's CPU time, which leaves out the time a
// shared machine gives to other processes; `npm run bench` uses it unless --clock wall). ms = median over the profiled forwards of the op's summed call times; share = ms / Σ ms of every op; calls = kernel
// calls per forward. GEMM ops (and the attention matmuls attn_qk / attn_pv) add gops = 2·M·N·K per forward / ms
// (M = tokens; shapes from the config), kernel = the export(s) that ran, ceiling = the instruction that kernel's
// inner loop is built on and ceiling_gops its median GOP/s here, pct_of_ceiling = 100 · gops / ceiling_gops.
// The total line has ms = median Σ, share 1, calls = all calls, forward_ms = median time of the whole profiled
// forward on the same clock (forward_ms − ms is JavaScript between kernel calls plus the timer itself), wall_ms =
// the same on the wall clock, plain_ms / plain_wall_ms = an unprofiled forward (run before each profiled one) on
// either clock, and runs. A contestant on several threads has only a total line: clock "wall", ms = plain_wall_ms
// (the profile runs one thread; CPU time would add the threads up).
// A ceiling line (one per instruction, build and arch run): {"profile":true,"arch","ceiling","wasm","gops","samples",
// "clock","instruction"}: the median GOP/s of `samples` calls, one after each round of forwards.

import { Engine, type EngineOptions, type WasmSource } from '../sdk/engine/index.js';
import { GEMM_OPS, Profile, type OpKind } from '../sdk/engine/program.js';
import { numPatches, numTokens, type ViTConfig } from '../sdk/format/model.js';
import { SCHEMES, type SchemeName } from '../sdk/quant/index.js';
import { CEILINGS, CeilingMeter, ceilingFor, type CeilingName } from './ceiling.js';
import { quantile, round, schemeFile, type BenchModel, type WasmBuild } from './measure.js';

// --- work per forward -----------------------------------------------------------------------------------

/**
 * Operations (2 per multiply-add) per forward of one image, for the ops that are matrix products: the six GEMMs
 * (M = tokens: patches for the patch embedding, one row per head for the head) and attention's q·kᵀ and P·v.
 */
export function opsPerForward(c: ViTConfig): Partial<Record<OpKind, number>> {
  const T = numTokens(c), Np = numPatches(c), D = c.dim, H = c.mlpHidden, L = c.depth;
  const hd = D / c.heads;
  const gemm = (M: number, N: number, K: number) => 2 * M * N * K;
  return {
    patch_embed: gemm(Np, D, c.inChans * c.patch * c.patch),
    qkv: L * gemm(T, 3 * D, D),
    proj: L * gemm(T, D, D),
    fc1: L * gemm(T, H, D),
    fc2: L * gemm(T, D, H),
    head: (c.distilled ? 2 : 1) * gemm(1, c.numClasses, D),
    attn_qk: L * c.heads * gemm(T, T, hd),
    attn_pv: L * c.heads * gemm(T, hd, T),
  };
}

/** The matrix-product ops: their lines carry gops and the ceiling. */
export const MATMUL_OPS: readonly OpKind[] = [...GEMM_OPS, 'attn_qk', 'attn_pv'];

// --- one group: contestants profiled in interleaved rounds ---------------------------------------------------

export interface ProfileOptions {
  schemes: string[];
  /** Thread counts, each its own contestant (EngineOptions.threads); absent = the engine's default, field 1. */
  threads?: number[];
  /** Attention paths, each its own contestant (EngineOptions.attention); absent = the engine's default. */
  attention?: string[];
  runs: number;
  warmup: number;
  wasmSource?: WasmSource;
  browser?: string;
  /** The clock kernel calls and ceilings are timed with, in ms, and its name for the lines (default performance.now, 'wall'). */
  clock?: { name: string; now(): number };
}

export interface ProfileLine {
  profile: true;
  arch: string;
  scheme: string;
  wasm: WasmBuild;
  threads: number;
  attention?: string;
  op: OpKind | 'total';
  /** 'wall' (performance.now) or 'cpu' (this process's CPU time: a shared machine's other processes left out). */
  clock: string;
  ms: number;
  share: number;
  calls: number;
  kernel?: string;
  gops?: number;
  ceiling?: CeilingName;
  ceiling_gops?: number;
  pct_of_ceiling?: number;
  forward_ms?: number;
  wall_ms?: number;
  plain_ms?: number;
  plain_wall_ms?: number;
  runs?: number;
  browser?: string;
}

export interface CeilingLine {
  profile: true;
  arch: string;
  ceiling: CeilingName;
  wasm: WasmBuild;
  gops: number;
  samples: number;
  clock: string;
  instruction: string;
  browser?: string;
}

interface Sample {
  /** The profiled forward (absent for a multi-thread contestant: the profile runs one thread). */
  ms?: Map<OpKind, number>;
  calls?: Map<OpKind, number>;
  forward?: number; // the whole profiled forward, the profile's clock
  wall?: number; // the same, wall clock
  plain: number; // an unprofiled forward, the profile's clock
  plainWall: number; // the same, wall clock
}

interface Contestant {
  scheme: string;
  /** Threads that ran (Engine.threads.used where the engine says). */
  threads: number;
  attention?: string;
  engine: Engine;
  samples: Sample[];
  /** The kernel exports each op ran (from the profile). */
  fns: Map<OpKind, Set<string>>;
}

export interface ProfileHooks {
  say?(line: string): void;
  progress?(done: number, total: number, what: string): void;
  tick?(): Promise<void>;
}

const median = (xs: number[]) => quantile([...xs].sort((a, b) => a - b), 0.5);

/** One round of a contestant: an unprofiled forward, then (one thread) a profiled one with a fresh Profile. */
function sampleForward(c: Contestant, chw: Float32Array, now: () => number): Sample {
  let w0 = performance.now();
  let t0 = now();
  c.engine.forward(chw);
  const plain = now() - t0;
  const plainWall = performance.now() - w0;
  if (c.threads !== 1) return { plain, plainWall };
  const p = new Profile(now);
  c.engine.setProfile(p);
  w0 = performance.now();
  t0 = now();
  try {
    c.engine.forward(chw);
  } finally {
    c.engine.setProfile(null);
  }
  const forward = now() - t0;
  const wall = performance.now() - w0;
  for (const [op, s] of p.fns) for (const f of s) (c.fns.get(op) ?? c.fns.set(op, new Set()).get(op)!).add(f);
  return { ms: new Map(p.ms), calls: new Map(p.calls), forward, wall, plain, plainWall };
}

/** The attention path a profiled contestant ran, from its kernels: int8 when any attention_q8_* export ran. */
function attentionRan(c: Contestant): string {
  for (const s of c.fns.values()) for (const f of s) if (f.startsWith('attention_q8')) return 'int8';
  return 'f32';
}

/**
 * Profile every contestant (scheme × threads × attention) on wasm build `group`: warm-up, then `runs` interleaved
 * rounds — each contestant one unprofiled and (on one thread) one profiled forward — with one sample of every
 * instruction ceiling after each round. A contestant whose engine ran fewer threads than asked, or another attention
 * path, is dropped with a message (its lines would repeat another's under a false name).
 */
export async function profileGroup(m: BenchModel, group: WasmBuild, opts: ProfileOptions, hooks: ProfileHooks = {}): Promise<{ lines: ProfileLine[]; ceilings: CeilingLine[] }> {
  const say = hooks.say ?? (() => {});
  const schemes = opts.schemes.filter((s) => {
    if ((SCHEMES as readonly string[]).includes(s)) return true;
    say(`[${group}] vitguard ${s}: unknown scheme (known: ${SCHEMES.join(', ')}), skipped`);
    return false;
  });
  const threadList: Array<number | undefined> = opts.threads ?? [undefined];
  const attentionList: Array<string | undefined> = opts.attention ?? [undefined];
  const clock = opts.clock ?? { name: 'wall', now: () => performance.now() };
  const meter = await CeilingMeter.create(group, opts.wasmSource, () => clock.now());
  let contestants: Contestant[] = [];
  const total = (Math.max(1, opts.warmup) + opts.runs) * schemes.length * threadList.length * attentionList.length;
  let done = 0;
  const step = (what: string) => hooks.progress?.(done, total, what);
  try {
    for (const scheme of schemes) {
      step(`vitguard ${scheme} (${group}): ${scheme === 'fp32' ? 'loading' : 'quantizing and loading'}`);
      await hooks.tick?.();
      const bytes = schemeFile(m, scheme as SchemeName);
      for (const threads of threadList) {
        for (const attention of attentionList) {
          // threads and attention only when asked for (an engine without the option runs its default: checked below)
          const engineOpts: Record<string, unknown> = { wasm: group, wasmSource: opts.wasmSource };
          if (threads !== undefined) engineOpts.threads = threads;
          if (attention !== undefined) (engineOpts as Record<string, unknown>).attention = attention; // checked by Engine.create
          const engine = await Engine.create(bytes, engineOpts as EngineOptions);
          const info = (engine as unknown as { threads?: { requested: number; used: number; reason?: string } }).threads;
          const used = info?.used ?? 1;
          if (threads !== undefined && used !== threads) {
            say(`[${group}] vitguard ${scheme}: ${threads} threads asked, ${used} ran${info?.reason ? ` (${info.reason})` : ''}: dropped`);
            engine.dispose();
            continue;
          }
          contestants.push({ scheme, threads: used, attention, engine, samples: [], fns: new Map() });
        }
      }
    }
    for (let w = 0; w < Math.max(1, opts.warmup); w++) {
      for (const c of contestants) {
        step(`warm-up ${w + 1}: ${c.scheme}`);
        await hooks.tick?.();
        sampleForward(c, m.chw, () => clock.now());
        done++;
      }
    }
    for (const c of contestants) c.fns.clear();
    for (let r = 0; r < opts.runs; r++) {
      for (let j = 0; j < contestants.length; j++) {
        const c = contestants[(r + j) % contestants.length];
        step(`profile ${r + 1}/${opts.runs}: ${c.scheme}`);
        await hooks.tick?.();
        c.samples.push(sampleForward(c, m.chw, () => clock.now()));
        done++;
      }
      meter.sample(r);
    }
    step('done');
  } finally {
    for (const c of contestants) c.engine.dispose();
  }
  contestants = contestants.filter((c) => {
    if (c.attention === undefined || c.threads !== 1 || attentionRan(c) === c.attention) return true;
    say(`[${group}] vitguard ${c.scheme}: attention ${c.attention} asked, the engine ran ${attentionRan(c)} attention kernels: dropped`);
    return false;
  });
  const ceilingGops = meter.medians();
  const ops = opsPerForward(m.config);
  const lines: ProfileLine[] = [];
  for (const c of contestants) lines.push(...contestantLines(m.arch, group, clock.name, c, ops, ceilingGops, opts.browser));
  const ceilings: CeilingLine[] = [...ceilingGops].map(([n, gops]) => {
    const l: CeilingLine = { profile: true, arch: m.arch, ceiling: n, wasm: group, gops: round(gops, 1), samples: meter.samples.get(n)!.length, clock: clock.name, instruction: CEILINGS[n].instruction };
    if (opts.browser !== undefined) l.browser = opts.browser;
    return l;
  });
  return { lines, ceilings };
}

function contestantLines(arch: string, group: WasmBuild, clock: string, c: Contestant, ops: Partial<Record<OpKind, number>>, ceilingGops: Map<CeilingName, number>, browser?: string): ProfileLine[] {
  const base = { profile: true as const, arch, scheme: c.scheme, wasm: group, threads: c.threads, ...(c.attention !== undefined ? { attention: c.attention } : {}) };
  const plainWall = round(median(c.samples.map((s) => s.plainWall)), 3);
  const out: ProfileLine[] = [];
  const profiled = c.samples.filter((s): s is Required<Sample> => s.ms !== undefined);
  if (!profiled.length) {
    // several threads: no per-op times (the profile runs one thread), the unprofiled forward on the wall clock
    const total: ProfileLine = { ...base, clock: 'wall', op: 'total', ms: plainWall, share: 1, calls: 0, plain_ms: plainWall, plain_wall_ms: plainWall, runs: c.samples.length };
    if (browser !== undefined) total.browser = browser;
    return [total];
  }
  const opsSeen = new Set<OpKind>();
  for (const s of profiled) for (const op of s.ms.keys()) opsSeen.add(op);
  const medMs = new Map<OpKind, number>();
  for (const op of opsSeen) medMs.set(op, median(profiled.map((s) => s.ms.get(op) ?? 0)));
  const sumMs = [...medMs.values()].reduce((a, b) => a + b, 0);
  for (const op of orderOps([...opsSeen])) {
    const ms = medMs.get(op)!;
    const line: ProfileLine = { ...base, clock, op, ms: round(ms, 3), share: round(ms / sumMs, 4), calls: profiled[0].calls.get(op) ?? 0 };
    const fns = [...(c.fns.get(op) ?? [])];
    if (fns.length) line.kernel = fns.join('+');
    const work = ops[op];
    if (work !== undefined && MATMUL_OPS.includes(op) && ms > 0) {
      line.gops = round(work / (ms * 1e6), 1);
      const kinds = new Set(fns.map((f) => ceilingFor(f, group)));
      const ceiling = kinds.size === 1 ? [...kinds][0] : null;
      const cg = ceiling ? ceilingGops.get(ceiling) : undefined;
      if (ceiling && cg) {
        line.ceiling = ceiling;
        line.ceiling_gops = round(cg, 1);
        line.pct_of_ceiling = round((100 * work) / (ms * 1e6) / cg, 1);
      }
    }
    if (browser !== undefined) line.browser = browser;
    out.push(line);
  }
  const totals = profiled.map((s) => [...s.ms.values()].reduce((a, b) => a + b, 0));
  const calls = [...profiled[0].calls.values()].reduce((a, b) => a + b, 0);
  const total: ProfileLine = {
    ...base, clock, op: 'total', ms: round(median(totals), 3), share: 1, calls,
    forward_ms: round(median(profiled.map((s) => s.forward)), 3), wall_ms: round(median(profiled.map((s) => s.wall)), 3),
    plain_ms: round(median(c.samples.map((s) => s.plain)), 3), plain_wall_ms: plainWall, runs: c.samples.length,
  };
  if (browser !== undefined) total.browser = browser;
  out.push(total);
  return out;
}

/** The order of a forward: patch embedding, the block's ops in order, the head. */
const OP_ORDER: OpKind[] = ['tokens', 'patch_embed', 'layernorm', 'act_quant', 'qkv', 'attn_quant', 'attn_qk', 'attn_softmax', 'attn_pv', 'proj', 'residual', 'fc1', 'gelu', 'fc2', 'head'];

function orderOps(ops: OpKind[]): OpKind[] {
  const rank = (op: OpKind) => {
    const i = OP_ORDER.indexOf(op);
    return i < 0 ? OP_ORDER.length : i;
  };
  return ops.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

// --- markdown -------------------------------------------------------------------------------------------

/** The issue's target: each GEMM at ≥ 85 % of the ceiling measured in the same run. */
export const GEMM_TARGET_PCT = 85;

function contestantKey(l: { scheme: string; wasm: string; threads: number; attention?: string }): string {
  return `${l.scheme} ${l.wasm}${l.threads !== 1 ? ` ${l.threads}T` : ''}${l.attention !== undefined ? ` attn:${l.attention}` : ''}`;
}

/**
 * Markdown tables per architecture: ms per forward and share for every op × contestant, then the matrix products'
 * GOP/s with % of their instruction's ceiling (✗ under GEMM_TARGET_PCT), then the ceilings. `header` lines go first
 * (the command, the machine).
 */
export function profileMarkdown(lines: ProfileLine[], ceilings: CeilingLine[], header: string[] = []): string {
  const out: string[] = [...header];
  for (const arch of [...new Set(lines.map((l) => l.arch))]) {
    const mine = lines.filter((l) => l.arch === arch);
    const keys = [...new Set(mine.map(contestantKey))];
    const cell = (op: string, key: string) => mine.find((l) => l.op === op && contestantKey(l) === key);
    const ops = orderOps([...new Set(mine.filter((l) => l.op !== 'total').map((l) => l.op as OpKind))]);
    const clocks = [...new Set(mine.map((l) => l.clock))].join(', ');
    out.push('', `### ${arch}: ms per forward, ${clocks} clock (share of the profiled sum)`, '');
    out.push(`| op | ${keys.join(' | ')} |`, `| --- |${keys.map(() => ' ---: |').join('')}`);
    for (const op of ops) {
      out.push(`| ${op} | ${keys.map((k) => {
        const l = cell(op, k);
        return l ? `${l.ms.toFixed(2)} (${(100 * l.share).toFixed(1)} %)` : '—';
      }).join(' | ')} |`);
    }
    const totalRow = (label: string, f: (l: ProfileLine) => number | undefined, bold = false) => {
      out.push(`| ${label} | ${keys.map((k) => {
        const l = cell('total', k);
        const v = l ? f(l) : undefined;
        return v === undefined ? '—' : bold ? `**${v.toFixed(1)}**` : v.toFixed(1);
      }).join(' | ')} |`);
    };
    totalRow('**Σ ops**', (l) => (l.forward_ms !== undefined ? l.ms : undefined), true);
    totalRow('profiled forward', (l) => l.forward_ms);
    totalRow('unprofiled forward', (l) => l.plain_ms);
    if (mine.some((l) => l.clock !== 'wall')) totalRow('unprofiled forward, wall clock', (l) => l.plain_wall_ms);

    const mm = MATMUL_OPS.filter((op) => mine.some((l) => l.op === op && l.gops !== undefined));
    out.push('', `### ${arch}: matrix products, GOP/s (% of the instruction ceiling; ✗ = under the ${GEMM_TARGET_PCT} % target)`, '');
    out.push(`| op | ${keys.join(' | ')} |`, `| --- |${keys.map(() => ' ---: |').join('')}`);
    for (const op of mm) {
      out.push(`| ${op} | ${keys.map((k) => {
        const l = cell(op, k);
        if (!l || l.gops === undefined) return '—';
        if (l.pct_of_ceiling === undefined) return `${l.gops.toFixed(1)} (${l.kernel ?? '?'}: no ceiling)`;
        const mark = GEMM_OPS.includes(l.op as OpKind) && l.pct_of_ceiling < GEMM_TARGET_PCT ? ' ✗' : '';
        return `${l.gops.toFixed(1)} (${l.pct_of_ceiling.toFixed(0)} % ${l.ceiling})${mark}`;
      }).join(' | ')} |`);
    }
    out.push(`| kernel | ${keys.map((k) => {
      const names = new Set(mm.map((op) => cell(op, k)?.kernel).filter((x): x is string => !!x));
      return [...names].join(', ') || '—';
    }).join(' | ')} |`);

    const mineC = ceilings.filter((c) => c.arch === arch);
    if (mineC.length) {
      const builds = [...new Set(mineC.map((c) => c.wasm))];
      const names = [...new Set(mineC.map((c) => c.ceiling))];
      out.push('', `### ${arch}: instruction ceilings in the same run (register-only loops, assembly/ceiling.ts), GOP/s (samples)`, '');
      out.push(`| ceiling | instruction | ${builds.join(' | ')} |`, `| --- | --- |${builds.map(() => ' ---: |').join('')}`);
      for (const n of names) {
        out.push(`| ${n} | ${CEILINGS[n].instruction} | ${builds.map((b) => {
          const c = mineC.find((x) => x.ceiling === n && x.wasm === b);
          return c ? `${c.gops.toFixed(1)} (${c.samples})` : '—';
        }).join(' | ')} |`);
      }
    }
  }
  return out.join('\n') + '\n';
}
