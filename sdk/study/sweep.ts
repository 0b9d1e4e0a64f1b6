// The 2-to-8-bit curve: simulated quantization (sim-wWaA: fake-quantized per-channel W-bit weights, per-token A-bit
// activations) at each bit width, through the same eval as the real schemes; fp32 is the reference line.

import { VitguardError } from '../errors.js';
import { runEval, summarize, type EvalConfig, type EvalResult } from './eval.js';
import { lineChartSvg, type Series } from './report.js';

export interface SweepPoint {
  bits: number;
  scheme: string;
  accuracy: number;
  /** score → AUPR-out averaged over the OOD sets. */
  auprOut: Record<string, number>;
  /** score → AUPR-out drop vs fp32 in points, averaged over the OOD sets. */
  auprOutDropAbs: Record<string, number | null>;
}

export interface SweepResult {
  format: 'vitguard-sweep/1';
  model: string;
  acts: '8' | 'same';
  bits: number[];
  fp32: { accuracy: number; auprOut: Record<string, number> };
  points: SweepPoint[];
  eval: EvalResult;
}

export function sweepSchemes(bits: number[], acts: '8' | 'same'): string[] {
  if (bits.length === 0) throw new VitguardError('E_USAGE', '--bits is empty');
  for (const b of bits) if (!(Number.isInteger(b) && b >= 2 && b <= 8)) throw new VitguardError('E_USAGE', `--bits: every width must be an integer 2..8, got ${b}`);
  return bits.map((b) => `sim-w${b}a${acts === 'same' ? b : 8}`);
}

export async function runSweep(cfg: Omit<EvalConfig, 'schemes' | 'models'> & { model: EvalConfig['models'][number]; bits: number[]; acts: '8' | 'same' }): Promise<SweepResult> {
  if (cfg.acts !== '8' && cfg.acts !== 'same') throw new VitguardError('E_USAGE', `--acts must be 8 or same, got ${cfg.acts}`);
  const schemes = sweepSchemes(cfg.bits, cfg.acts);
  const res = await runEval({ ...cfg, models: [cfg.model], schemes: ['fp32', ...schemes] });
  const sum = summarize(res.rows);
  const scores = res.setup.scores;
  const at = (scheme: string) => ({
    accuracy: res.models.find((m) => m.scheme === scheme)!.accuracy,
    auprOut: Object.fromEntries(scores.map((s) => [s, sum.find((x) => x.scheme === scheme && x.score === s)!.auprOut])),
    auprOutDropAbs: Object.fromEntries(scores.map((s) => [s, sum.find((x) => x.scheme === scheme && x.score === s)!.auprOutDropAbs])),
  });
  const ref = at('fp32');
  return {
    format: 'vitguard-sweep/1', model: cfg.model.name, acts: cfg.acts, bits: cfg.bits,
    fp32: { accuracy: ref.accuracy, auprOut: ref.auprOut },
    points: cfg.bits.map((b, i) => ({ bits: b, scheme: schemes[i], ...at(schemes[i]) })),
    eval: res,
  };
}

/** Two panels side by side: top-1 accuracy vs bits, and AUPR-out (mean over OOD sets) vs bits per score. */
export function sweepSvg(r: SweepResult): string {
  const xs = r.points.map((p) => p.bits);
  const lo = Math.min(...xs), hi = Math.max(...xs);
  const accSeries: Series[] = [
    { name: 'simulated', points: r.points.map((p) => [p.bits, 100 * p.accuracy]) },
    { name: 'fp32', points: [[lo, 100 * r.fp32.accuracy], [hi, 100 * r.fp32.accuracy]], dashed: true },
  ];
  const scores = Object.keys(r.fp32.auprOut);
  const ood: Series[] = scores.map((s) => ({ name: s, points: r.points.map((p) => [p.bits, 100 * p.auprOut[s]] as [number, number]) }));
  const actsNote = r.acts === 'same' ? 'activations at the same bits' : '8-bit activations';
  const a = lineChartSvg({ title: `${r.model}: top-1 vs weight bits (${actsNote})`, xLabel: 'bits', yLabel: 'top-1 %', series: accSeries, yMin: 0, yMax: 100, xTicks: xs });
  const b = lineChartSvg({ title: `${r.model}: AUPR-out vs bits (mean over OOD sets)`, xLabel: 'bits', yLabel: 'AUPR-out %', series: ood, xTicks: xs });
  const strip = (svg: string) => svg.replace(/^<svg[^>]*>/, '').replace(/<\/svg>$/, '');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="1040" height="300" viewBox="0 0 1040 300"><g>${strip(a)}</g><g transform="translate(520 0)">${strip(b)}</g></svg>`;
}

export function sweepText(r: SweepResult): string {
  const scores = Object.keys(r.fp32.auprOut);
  const head = ['bits', 'scheme', 'top-1 %', ...scores.map((s) => `${s} AUPR-out`), ...scores.map((s) => `${s} drop pts`)];
  const rows = [
    ['32', 'fp32', (100 * r.fp32.accuracy).toFixed(2), ...scores.map((s) => (100 * r.fp32.auprOut[s]).toFixed(2)), ...scores.map(() => '—')],
    ...r.points.map((p) => [String(p.bits), p.scheme, (100 * p.accuracy).toFixed(2), ...scores.map((s) => (100 * p.auprOut[s]).toFixed(2)),
      ...scores.map((s) => (p.auprOutDropAbs[s] === null ? '—' : p.auprOutDropAbs[s]!.toFixed(2)))]),
  ];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i].length)));
  return [head, ...rows].map((x) => x.map((c, i) => c.padStart(w[i])).join('  ')).join('\n');
}
