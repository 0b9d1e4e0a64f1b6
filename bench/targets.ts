// The speed targets of issue 10, checked against latency result lines (bench/measure.ts): what each ratio is, its
// limit, and whether it is met or missed by how much. Reported by the bench page and docs/performance.md, never
// asserted by a test (timings here are noisy).

import type { ResultLine } from './measure.js';

export interface TargetCheck {
  /** What is compared, e.g. "best quantized / ORT int8". */
  name: string;
  arch: string;
  group: string;
  /** The measured ratio, or null where a contestant it needs was not run. */
  value: number | null;
  limit: number;
  met: boolean | null;
  /** e.g. "w8a8 0.68" or "missed by 24 %" */
  detail: string;
}

const QUANTIZED = (l: ResultLine) => l.engine === 'vitguard' && l.scheme !== 'fp32';
const short = (arch: string) => arch.replace(/_patch\d+_\d+$/, '');

function check(name: string, arch: string, group: string, value: number | null, limit: number, what = ''): TargetCheck {
  if (value === null || !Number.isFinite(value)) return { name, arch, group, value: null, limit, met: null, detail: 'not measured' };
  const met = value <= limit;
  const v = `${what ? what + ' ' : ''}${value.toFixed(2)}`;
  const detail = met ? `${v} ≤ ${limit}` : `${v} > ${limit}: missed by ${((value / limit - 1) * 100).toFixed(0)} %`;
  return { name, arch, group, value: Number(value.toFixed(3)), limit, met, detail };
}

/**
 * The latency and load targets for one arch's lines (one or both groups). Sizes other than deit_tiny and
 * deit_small get the targets that hold "at every size" (w4a8 ≤ 1.05× w8a8, load ≤ 0.5× ORT).
 */
export function latencyTargets(lines: ResultLine[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  const arches = [...new Set(lines.map((l) => l.arch))];
  for (const arch of arches) {
    const a = short(arch);
    for (const group of [...new Set(lines.filter((l) => l.arch === arch).map((l) => l.group))]) {
      const g = lines.filter((l) => l.arch === arch && l.group === group && l.threads === 1);
      const ort = (s: string) => g.find((l) => l.engine === 'ort' && l.scheme === s) ?? null;
      const vg = (s: string) => g.find((l) => l.engine === 'vitguard' && l.scheme === s) ?? null;
      const ratio = (x: ResultLine | null, y: ResultLine | null) => (x && y ? x.median_ms / y.median_ms : null);
      const best = g.filter(QUANTIZED).sort((x, y) => x.median_ms - y.median_ms)[0] ?? null;
      if (a === 'deit_tiny') {
        const limit = group === 'relaxed' ? 0.5 : 0.6;
        out.push(check('vitguard fp32 / ORT fp32', arch, group, ratio(vg('fp32'), ort('fp32')), limit));
        out.push(check('best quantized / ORT int8', arch, group, ratio(best, ort('int8')), 0.55, best?.scheme));
        out.push(check('best quantized / ORT fp32', arch, group, ratio(best, ort('fp32')), 0.33, best?.scheme));
      } else if (a === 'deit_small') {
        out.push(check('best quantized / ORT int8', arch, group, ratio(best, ort('int8')), 0.6, best?.scheme));
      }
      out.push(check('w4a8 / w8a8', arch, group, ratio(vg('w4a8'), vg('w8a8')), 1.05));
      // load to ready from bytes in memory, against ORT's session creation at the same precision
      const load = (x: ResultLine | null, y: ResultLine | null) => (x && y ? x.load_ms / y.load_ms : null);
      for (const [v, o] of [['fp32', 'fp32'], ['w8a8', 'int8'], ['w4a8', 'int4']] as const) {
        if (vg(v) && ort(o)) out.push(check(`load ${v} / ORT ${o} session`, arch, group, load(vg(v), ort(o)), 0.5));
      }
      // threads: each vitguard scheme measured on more than one thread against itself on one
      for (const t of lines.filter((l) => l.arch === arch && l.group === group && l.engine === 'vitguard' && l.threads > 1)) {
        out.push(check(`${t.scheme} ${t.threads} threads / 1 thread`, arch, group, ratio(t, vg(t.scheme)), 0.55));
      }
    }
  }
  return out;
}
