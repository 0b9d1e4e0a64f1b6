// Rendering study results: console tables, Markdown (docs/results.md), a self-contained HTML report with inline SVG
// plots, and the small SVG chart helpers the sweep reuses. No dependencies, no external assets.

import type { AttentionDelta, EvalResult, EvalRow, Interval, RowIntervals } from './eval.js';
import { summarize } from './eval.js';
import { OA_RULES } from './outlier-scheme.js';
import { separates } from '../ood/bootstrap.js';

const pct = (x: number) => (100 * x).toFixed(2);
const signed = (x: number | null, digits = 2) => (x === null ? '—' : `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`);
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

// --- intervals --------------------------------------------------------------------------------------------------

/** Marks a difference whose interval holds 0 (the bootstrap does not separate it from no change). */
export const NOT_SEPARATED = '≈';

/** A metric in % with its interval: "91.23 [90.10, 92.31]". */
export function pctCi(x: number, ci: Interval | null | undefined): string {
  return ci ? `${pct(x)} [${pct(ci[0])}, ${pct(ci[1])}]` : pct(x);
}

/** A difference in points with its interval, marked ≈ where the interval holds 0: "+1.23 [-0.40, +2.10] ≈". */
export function diffCi(x: number | null, ci: Interval | null | undefined, digits = 2): string {
  if (x === null) return '—';
  if (!ci || (x === 0 && ci[0] === 0 && ci[1] === 0)) return signed(x, digits); // no interval, or fp32 against itself
  return `${signed(x, digits)} [${signed(ci[0], digits)}, ${signed(ci[1], digits)}]${separates(ci) ? '' : ` ${NOT_SEPARATED}`}`;
}

function intervalsLine(res: EvalResult): string | null {
  const b = res.bootstrap;
  if (!b) return null;
  return `Intervals: ${Math.round(100 * b.level)} % ${b.method}; ${b.resamples} resamples, seed ${b.seed}. ` +
    `${NOT_SEPARATED} marks a difference whose interval includes 0: the images measured do not separate it from no change.`;
}

function summaryIntervals(res: EvalResult, model: string, scheme: string, score: string): RowIntervals | undefined {
  return res.summaryCi?.find((c) => c.model === model && c.scheme === scheme && c.score === score);
}

// --- plain tables ------------------------------------------------------------------------------------------------

export const ROW_COLUMNS = ['model', 'scheme', 'score', 'OOD set', 'acc %', 'AUROC', 'AUPR-in', 'AUPR-out', 'FPR@95', 'drop pts', 'drop %', 'n ID/OOD'];

function rowCells(r: EvalRow): string[] {
  return [r.model, r.scheme, r.score, r.ood, pct(r.accuracy), pct(r.auroc), pct(r.auprIn), pctCi(r.auprOut, r.ci?.auprOut), pct(r.fpr95),
    diffCi(r.auprOutDropAbs, r.ci?.auprOutDropAbs), signed(r.auprOutDropRel, 1), `${r.nId}/${r.nOod}`];
}

/** Fixed-width text table. */
export function textTable(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 4 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(header), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

export function mdTable(header: string[], rows: string[][], rightFrom = 0): string {
  const sep = header.map((_, i) => (i >= rightFrom && rightFrom > 0 ? '---:' : '---'));
  return [header, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

// --- int8 against f32 attention ------------------------------------------------------------------------------------

export const ATTENTION_COLUMNS = ['model', 'scheme', 'score', 'top-1 % f32 → int8', 'Δ top-1 pts', 'top-1 agreement %', 'Δ AUROC pts [95 % CI]', 'Δ AUPR-out pts [95 % CI]'];

function attentionCells(d: AttentionDelta): string[] {
  return [d.model, d.scheme, d.score, `${pct(d.top1F32)} → ${pct(d.top1Int8)}`, signed(d.top1DeltaPts), Number.isNaN(d.top1Agreement) ? '—' : pct(d.top1Agreement),
    diffCi(d.aurocDeltaPts, d.aurocCi), diffCi(d.auprOutDeltaPts, d.auprOutCi)];
}

/** The rows a report shows: the mean over scores where there are several, else the one score. */
function attentionShown(res: EvalResult): AttentionDelta[] {
  const d = res.attentionDeltas ?? [];
  return res.setup.scores.length > 1 ? d.filter((x) => x.score === 'mean') : d;
}

const ATTENTION_NOTE = 'int8 − f32 attention on the same images and the same weights (EngineOptions.attention; assembly/attention_q8.ts): ' +
  'top-1 on the ID set; AUROC and AUPR-out as means over the OOD sets, in points; agreement = ID images whose top-1 is the same on both paths. ' +
  `Rows of the int8 path are named <scheme>+attn_int8 elsewhere in this report. ${NOT_SEPARATED}: the interval includes 0.`;

export function evalText(res: EvalResult): string {
  const att = attentionShown(res);
  return [
    setupLine(res),
    '',
    textTable(ROW_COLUMNS, res.rows.map(rowCells)),
    '',
    ...(att.length ? ['int8 against f32 attention:', textTable(ATTENTION_COLUMNS, att.map(attentionCells)), ATTENTION_NOTE, ''] : []),
    `Metrics in % (OOD positive). FPR@95: ${res.definitions.fpr95}.`,
    `AUPR: ${res.definitions.aupr}. Drop: ${res.definitions.drop}.`,
    ...(intervalsLine(res) ? [intervalsLine(res)!] : []),
  ].join('\n');
}

function setupLine(res: EvalResult): string {
  const s = res.setup;
  return `ID ${s.specs.id}; OOD ${s.specs.ood.join(', ')}; fit ${s.specs.fit ?? '—'}; wasm ${s.wasm}; ` +
    (s.attention ? `attention ${s.attention.join(', ')}; ` : '') +
    (s.limit ? `sampled: --limit ${s.limit} images per ID/OOD set (seeded, class-balanced)` : 'full sets');
}

// --- Markdown -----------------------------------------------------------------------------------------------------

export function evalMarkdown(res: EvalResult, opts: { title?: string; command?: string } = {}): string {
  const out: string[] = [];
  out.push(`# ${opts.title ?? 'OOD detection under quantization'}`, '');
  out.push('<!-- generated by `vitguard eval`; do not edit by hand -->', '');
  if (opts.command) out.push('Regenerate with:', '', '```sh', opts.command, '```', '');
  out.push(`Setup: ${setupLine(res)}. Ran in ${res.seconds.toFixed(0)} s.`, '');
  if (intervalsLine(res)) out.push(intervalsLine(res)!, '');
  out.push('## Accuracy and speed per model × scheme', '');
  out.push(mdTable(['model', 'scheme', 'top-1 %', 'n', 'ms / image', 'weights MiB'], res.models.map((m) => [
    m.model, m.scheme, pct(m.accuracy), String(m.nId), m.msPerImage.toFixed(2), (m.weightBytes / 2 ** 20).toFixed(2),
  ]), 2), '');
  out.push('ms / image: batched forward during feature extraction on a shared 2-core machine (noisy; compare within a run).', '');
  if (res.latency.length) {
    out.push('## Batch-1 latency (interleaved medians)', '');
    out.push(mdTable(['model', 'scheme', 'median ms', 'vs fp32', 'runs', 'wasm'], res.latency.map((l) => {
      const f = res.latency.find((x) => x.model === l.model && x.scheme === 'fp32');
      return [l.model, l.scheme, l.medianMs.toFixed(2), f ? `×${(l.medianMs / f.medianMs).toFixed(2)}` : '—', String(l.runs), l.wasm];
    }), 2), '');
  }
  const oa = outlierAwareSummary(res);
  if (oa.length) {
    out.push('## Outlier-aware schemes against their plain counterparts', '');
    out.push('Lost = mean over OOD sets of the AUPR-out drop vs fp32 (points); recovered = (lost(plain) − lost(oa)) / lost(plain), ' +
      `shown only where plain loses more than ${NOISE_FLOOR_PTS} point (below that the drop is within sampling noise). Latency from the table above.`, '');
    for (const name of new Set(oa.map((o) => o.oa))) {
      const rule = (OA_RULES as Record<string, string>)[name];
      if (rule) out.push(`- \`${name}\`: ${rule}.`);
    }
    out.push('');
    out.push(mdTable(['model', 'plain → oa', 'score', 'lost plain', 'lost oa', 'won back pts', 'recovered', 'latency oa / plain'], oa.map(oaCells), 3), '');
  }
  const att = attentionShown(res);
  if (att.length) {
    out.push('## int8 attention against f32 attention', '');
    out.push(ATTENTION_NOTE, '');
    out.push(mdTable(ATTENTION_COLUMNS, att.map(attentionCells), 3), '');
  }
  const diffs = res.modelDiffs ?? [];
  if (diffs.length) {
    out.push(`## Against ${diffs[0].vs}`, '');
    out.push(`Each model against ${diffs[0].vs} on the same images (mean over OOD sets, points): drop = how much more AUPR-out ` +
      'the scheme takes from this model than from the first (positive: loses more); gain = how much more an outlier-aware ' +
      `scheme wins back. ${NOT_SEPARATED}: the interval includes 0.`, '');
    out.push(mdTable(['model', 'vs', 'what', 'scheme', 'score', 'difference pts [95 % CI]'], diffs.filter((d) => d.score === 'mean' || res.setup.scores.length === 1).map(diffCells), 5), '');
  }
  out.push('## AUPR-out averaged over the OOD sets', '');
  const sum = summarize(res.rows);
  out.push(mdTable(SUMMARY_COLUMNS, sum.map((s) => summaryCells(res, s)), 3), '');
  out.push('## Every row', '');
  out.push(mdTable(ROW_COLUMNS, res.rows.map(rowCells), 4), '');
  out.push('## Definitions', '');
  out.push(`- OOD is the positive class; every score is "higher = more in-distribution" (OpenOOD convention).`);
  out.push(`- FPR@95: ${res.definitions.fpr95}.`);
  out.push(`- AUPR: ${res.definitions.aupr}.`);
  out.push(`- Drop: ${res.definitions.drop}. AUPR depends on the OOD:ID ratio: the counts are in the last column.`, '');
  return out.join('\n');
}

const SUMMARY_COLUMNS = ['model', 'scheme', 'score', 'AUPR-out % [95 % CI]', 'AUROC %', 'drop pts [95 % CI]', 'drop %'];

function summaryCells(res: EvalResult, s: ReturnType<typeof summarize>[number]): string[] {
  const c = summaryIntervals(res, s.model, s.scheme, s.score);
  return [s.model, s.scheme, s.score, pctCi(s.auprOut, c?.auprOut), pctCi(s.auroc, c?.auroc), diffCi(s.auprOutDropAbs, c?.auprOutDropAbs), signed(s.auprOutDropRel, 1)];
}

function diffCells(d: NonNullable<EvalResult['modelDiffs']>[number]): string[] {
  return [d.model, d.vs, d.kind, d.scheme, d.score, diffCi(d.diffPts, d.ci)];
}

function oaCells(o: OaComparison): string[] {
  const notSeparated = o.gainCi && !separates(o.gainCi) ? ` ${NOT_SEPARATED}` : '';
  return [o.model, `${o.plain} → ${o.oa}`, o.score, o.lostPlain.toFixed(2), o.lostOa.toFixed(2), diffCi(o.lostPlain - o.lostOa, o.gainCi),
    o.recovered === null ? '—' : `${(100 * o.recovered).toFixed(0)} %${notSeparated}`, o.latencyRatio === null ? '—' : `×${o.latencyRatio.toFixed(3)}`];
}

export const NOISE_FLOOR_PTS = 1;

export interface OaComparison {
  model: string; plain: string; oa: string; score: string;
  lostPlain: number; lostOa: number; recovered: number | null; latencyRatio: number | null;
  /** Interval of lostPlain − lostOa (points won back), paired bootstrap; null without intervals. */
  gainCi: Interval | null;
}

/** Per model × (plain, -oa) pair × score (and 'mean' over scores): AUPR-out lost vs fp32 and the share recovered. */
export function outlierAwareSummary(res: EvalResult): OaComparison[] {
  const sum = summarize(res.rows);
  const out: OaComparison[] = [];
  const models = [...new Set(res.rows.map((r) => r.model))];
  for (const m of models) {
    for (const oa of res.setup.schemes.filter((s) => s.endsWith('-oa'))) {
      const plain = oa.slice(0, -3);
      if (!res.setup.schemes.includes(plain) || !res.setup.schemes.includes('fp32')) continue;
      const lat = (s: string) => res.latency.find((l) => l.model === m && l.scheme === s)?.medianMs;
      const lp = lat(plain), lo = lat(oa);
      const latencyRatio = lp && lo ? lo / lp : null;
      const add = (score: string, lostPlain: number, lostOa: number) => out.push({
        model: m, plain, oa, score, lostPlain, lostOa, latencyRatio,
        gainCi: res.oaCi?.find((c) => c.model === m && c.oa === oa && c.score === score)?.gainPts ?? null,
        recovered: lostPlain > NOISE_FLOOR_PTS ? (lostPlain - lostOa) / lostPlain : null,
      });
      const pairs = res.setup.scores.map((sc) => {
        const a = sum.find((x) => x.model === m && x.scheme === plain && x.score === sc)!;
        const b = sum.find((x) => x.model === m && x.scheme === oa && x.score === sc)!;
        return [a.auprOutDropAbs ?? 0, b.auprOutDropAbs ?? 0] as const;
      });
      res.setup.scores.forEach((sc, i) => add(sc, pairs[i][0], pairs[i][1]));
      add('mean', pairs.reduce((x, p) => x + p[0], 0) / pairs.length, pairs.reduce((x, p) => x + p[1], 0) / pairs.length);
    }
  }
  return out;
}

// --- SVG charts ---------------------------------------------------------------------------------------------------

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

export interface Series { name: string; points: Array<[number, number]>; dashed?: boolean }

/** A line chart: x numeric, y in [yMin, yMax]; one polyline + markers per series, legend on the right. */
export function lineChartSvg(opts: { title: string; xLabel: string; yLabel: string; series: Series[]; yMin?: number; yMax?: number; xTicks?: number[]; width?: number; height?: number }): string {
  const W = opts.width ?? 520, H = opts.height ?? 300, L = 56, R = 150, T = 30, B = 44;
  const xs = opts.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = opts.series.flatMap((s) => s.points.map((p) => p[1]));
  const x0 = Math.min(...xs), x1 = Math.max(...xs);
  const y0 = opts.yMin ?? Math.min(...ys), y1 = opts.yMax ?? Math.max(...ys);
  const sx = (x: number) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
  const sy = (y: number) => H - B - ((y - y0) / (y1 - y0 || 1)) * (H - T - B);
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`];
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`, `<text x="${W / 2 - R / 2}" y="16" text-anchor="middle" font-size="13">${esc(opts.title)}</text>`);
  for (let i = 0; i <= 4; i++) {
    const y = y0 + ((y1 - y0) * i) / 4;
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${sy(y)}" y2="${sy(y)}" stroke="#ddd"/>`, `<text x="${L - 4}" y="${sy(y) + 4}" text-anchor="end">${y.toFixed(y1 - y0 < 5 ? 2 : 1)}</text>`);
  }
  for (const x of opts.xTicks ?? [...new Set(xs)]) parts.push(`<text x="${sx(x)}" y="${H - B + 14}" text-anchor="middle">${x}</text>`);
  parts.push(`<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/>`, `<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#333"/>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle">${esc(opts.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`);
  opts.series.forEach((s, i) => {
    const c = PALETTE[i % PALETTE.length];
    const pts = s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''} points="${pts}"/>`);
    for (const [x, y] of s.points) parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${c}"><title>${esc(s.name)}: ${x}, ${y.toFixed(2)}</title></circle>`);
    parts.push(`<line x1="${W - R + 10}" x2="${W - R + 30}" y1="${T + 8 + i * 16}" y2="${T + 8 + i * 16}" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`,
      `<text x="${W - R + 34}" y="${T + 12 + i * 16}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** Grouped bars: one group per category, one bar per series. */
export function barChartSvg(opts: { title: string; yLabel: string; categories: string[]; series: Array<{ name: string; values: number[] }>; yMin?: number; yMax?: number; width?: number; height?: number }): string {
  const W = opts.width ?? 640, H = opts.height ?? 300, L = 56, R = 120, T = 30, B = 44;
  const all = opts.series.flatMap((s) => s.values);
  const y0 = opts.yMin ?? Math.min(0, ...all), y1 = opts.yMax ?? Math.max(...all);
  const sy = (y: number) => H - B - ((y - y0) / (y1 - y0 || 1)) * (H - T - B);
  const gw = (W - L - R) / opts.categories.length;
  const bw = (gw * 0.8) / opts.series.length;
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`];
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`, `<text x="${(W - R) / 2}" y="16" text-anchor="middle" font-size="13">${esc(opts.title)}</text>`);
  for (let i = 0; i <= 4; i++) {
    const y = y0 + ((y1 - y0) * i) / 4;
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${sy(y)}" y2="${sy(y)}" stroke="#ddd"/>`, `<text x="${L - 4}" y="${sy(y) + 4}" text-anchor="end">${y.toFixed(1)}</text>`);
  }
  opts.categories.forEach((cat, g) => {
    parts.push(`<text x="${L + g * gw + gw / 2}" y="${H - B + 14}" text-anchor="middle">${esc(cat)}</text>`);
    opts.series.forEach((s, i) => {
      const v = s.values[g];
      const x = L + g * gw + gw * 0.1 + i * bw;
      const top = sy(Math.max(v, y0)), base = sy(Math.max(y0, 0));
      parts.push(`<rect x="${x.toFixed(1)}" y="${Math.min(top, base).toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${Math.abs(base - top).toFixed(1)}" fill="${PALETTE[i % PALETTE.length]}"><title>${esc(s.name)} / ${esc(cat)}: ${v.toFixed(2)}</title></rect>`);
    });
  });
  parts.push(`<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/>`);
  parts.push(`<text transform="translate(14 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`);
  opts.series.forEach((s, i) => parts.push(`<rect x="${W - R + 10}" y="${T + i * 16}" width="12" height="10" fill="${PALETTE[i % PALETTE.length]}"/>`, `<text x="${W - R + 26}" y="${T + 9 + i * 16}">${esc(s.name)}</text>`));
  parts.push('</svg>');
  return parts.join('');
}

// --- HTML ---------------------------------------------------------------------------------------------------------

function htmlTable(header: string[], rows: string[][]): string {
  return `<table><thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/** Per model: AUPR-out (mean over OOD sets) per score, one bar per scheme; and accuracy per scheme. */
export function evalCharts(res: EvalResult): string[] {
  const sum = summarize(res.rows);
  const models = [...new Set(res.rows.map((r) => r.model))];
  const charts: string[] = [];
  for (const m of models) {
    const schemes = res.setup.schemes.filter((s) => sum.some((x) => x.model === m && x.scheme === s));
    const scores = [...new Set(sum.filter((x) => x.model === m).map((x) => x.score))];
    charts.push(barChartSvg({
      title: `${m}: AUPR-out (mean over OOD sets)`, yLabel: 'AUPR-out %', categories: scores,
      series: schemes.map((s) => ({ name: s, values: scores.map((sc) => 100 * sum.find((x) => x.model === m && x.scheme === s && x.score === sc)!.auprOut) })),
      yMax: 100,
    }));
  }
  charts.push(barChartSvg({
    title: 'Top-1 accuracy on the ID set', yLabel: 'top-1 %', categories: models,
    series: res.setup.schemes.map((s) => ({ name: s, values: models.map((m) => 100 * (res.models.find((x) => x.model === m && x.scheme === s)?.accuracy ?? 0)) })),
    yMax: 100,
  }));
  return charts;
}

export function evalHtml(res: EvalResult, opts: { title?: string; command?: string; extra?: string } = {}): string {
  const title = opts.title ?? 'vitguard: OOD detection under quantization';
  const sum = summarize(res.rows);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;font-size:12px;margin:1em 0}
th,td{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#f3f3f3}td:nth-child(-n+4){text-align:left}
svg{margin:0.5em 1em 0.5em 0}code{background:#f3f3f3;padding:1px 3px}</style></head><body>
<h1>${esc(title)}</h1>
${opts.command ? `<p>Regenerate: <code>${esc(opts.command)}</code></p>` : ''}
<p>${esc(setupLine(res))}. Ran in ${res.seconds.toFixed(0)} s.</p>
${intervalsLine(res) ? `<p>${esc(intervalsLine(res)!)}</p>` : ''}
<div>${evalCharts(res).join('\n')}</div>
${opts.extra ?? ''}
${res.latency.length ? `<h2>Batch-1 latency (interleaved medians)</h2>${htmlTable(['model', 'scheme', 'median ms', 'runs', 'wasm'], res.latency.map((l) => [l.model, l.scheme, l.medianMs.toFixed(2), String(l.runs), l.wasm]))}` : ''}
${outlierAwareSummary(res).length ? `<h2>Outlier-aware schemes against plain</h2><ul>${[...new Set(outlierAwareSummary(res).map((o) => o.oa))].filter((n) => n in OA_RULES).map((n) => `<li><code>${esc(n)}</code>: ${esc((OA_RULES as Record<string, string>)[n])}.</li>`).join('')}</ul>${htmlTable(['model', 'plain → oa', 'score', 'lost plain (pts)', 'lost oa (pts)', 'won back (pts) [95 % CI]', 'recovered', 'latency oa / plain'], outlierAwareSummary(res).map(oaCells))}` : ''}
${attentionShown(res).length ? `<h2>int8 attention against f32 attention</h2><p>${esc(ATTENTION_NOTE)}</p>${htmlTable(ATTENTION_COLUMNS, attentionShown(res).map(attentionCells))}` : ''}
${res.modelDiffs?.length ? `<h2>Against ${esc(res.modelDiffs[0].vs)} (same images, mean over OOD sets, points)</h2>${htmlTable(['model', 'vs', 'what', 'scheme', 'score', 'difference pts [95 % CI]'], res.modelDiffs.map(diffCells))}` : ''}
<h2>Accuracy and speed</h2>
${htmlTable(['model', 'scheme', 'top-1 %', 'n', 'ms / image', 'weights MiB'], res.models.map((m) => [m.model, m.scheme, pct(m.accuracy), String(m.nId), m.msPerImage.toFixed(2), (m.weightBytes / 2 ** 20).toFixed(2)]))}
<h2>AUPR-out averaged over OOD sets</h2>
${htmlTable(SUMMARY_COLUMNS, sum.map((s) => summaryCells(res, s)))}
<h2>Every row</h2>
${htmlTable(ROW_COLUMNS, res.rows.map(rowCells))}
<h2>Definitions</h2><ul><li>OOD positive; scores higher = more in-distribution.</li><li>FPR@95: ${esc(res.definitions.fpr95)}</li>
<li>AUPR: ${esc(res.definitions.aupr)}</li><li>Drop: ${esc(res.definitions.drop)}</li></ul>
</body></html>
`;
}
