// A horizontal bar chart as a standalone SVG string, no chart library: one bar per contestant (its median), a whisker
// to its p90, grouped under headings, with an optional dashed reference line per group (e.g. "0.55 × ORT int8").
// Drawn by the on-device bench page (demos/browser/bench.js) and by the docs generator (tools/perf-docs.mjs →
// docs/performance.svg), so a phone's chart and the committed one look alike.

export interface Bar {
  label: string;
  /** Bar length (e.g. median ms). */
  value: number;
  /** Whisker end (e.g. p90 ms); omitted: no whisker. */
  whisker?: number;
  /** Colour class: 'ort' (the peer), 'vitguard', or anything else (grey). */
  kind: string;
  /** Text after the value, e.g. "0.69× ORT int8". */
  note?: string;
}

export interface BarGroup {
  title: string;
  bars: Bar[];
  /** Dashed vertical lines at these values, labelled. */
  marks?: { value: number; label: string }[];
}

export interface ChartOptions {
  title?: string;
  unit?: string; // default 'ms'
  width?: number; // default 760
  /** Under the axis; default "<unit> (bar: median, whisker: p90)". */
  caption?: string;
}

const COLOURS: Record<string, string> = { ort: '#9aa0a6', vitguard: '#1a73e8', 'vitguard-best': '#0b57d0' };
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A "nice" axis step (1, 2 or 5 × 10^k) giving about `ticks` intervals up to max. */
function niceStep(max: number, ticks = 5): number {
  const raw = max / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

export function barChart(groups: BarGroup[], opts: ChartOptions = {}): string {
  const unit = opts.unit ?? 'ms';
  const W = opts.width ?? 760;
  const labelW = Math.min(230, Math.max(90, 7 * Math.max(8, ...groups.flatMap((g) => g.bars.map((b) => b.label.length)))));
  const noteW = 190;
  const plotX = labelW + 10;
  const plotW = Math.max(120, W - plotX - noteW);
  const barH = 16;
  const gap = 5;
  const max = Math.max(1e-9, ...groups.flatMap((g) => [...g.bars.map((b) => Math.max(b.value, b.whisker ?? 0)), ...(g.marks ?? []).map((m) => m.value)]));
  const step = niceStep(max);
  const axisMax = Math.ceil(max / step) * step;
  const x = (v: number) => plotX + (plotW * v) / axisMax;

  const out: string[] = [];
  let y = 8;
  if (opts.title) {
    out.push(`<text x="${W / 2}" y="${y + 14}" text-anchor="middle" font-weight="bold" font-size="14">${esc(opts.title)}</text>`);
    y += 26;
  }
  for (const g of groups) {
    out.push(`<text x="4" y="${y + 13}" font-weight="bold">${esc(g.title)}</text>`);
    y += 20;
    const top = y;
    for (const b of g.bars) {
      const colour = COLOURS[b.kind] ?? '#5f6368';
      const cy = y + barH / 2;
      out.push(`<text x="${labelW}" y="${cy + 4}" text-anchor="end">${esc(b.label)}</text>`);
      out.push(`<rect class="bar" x="${plotX}" y="${y}" width="${Math.max(0.5, x(b.value) - plotX).toFixed(1)}" height="${barH}" fill="${colour}"><title>${esc(`${b.label}: ${fmt(b.value)} ${unit}${b.whisker !== undefined ? `, p90 ${fmt(b.whisker)} ${unit}` : ''}`)}</title></rect>`);
      if (b.whisker !== undefined && b.whisker > b.value) {
        out.push(`<line x1="${x(b.value).toFixed(1)}" x2="${x(b.whisker).toFixed(1)}" y1="${cy}" y2="${cy}" stroke="#202124"/>`,
          `<line x1="${x(b.whisker).toFixed(1)}" x2="${x(b.whisker).toFixed(1)}" y1="${cy - 4}" y2="${cy + 4}" stroke="#202124"/>`);
      }
      const text = `${fmt(b.value)} ${unit}${b.note ? `  ${b.note}` : ''}`;
      out.push(`<text x="${(x(Math.max(b.value, b.whisker ?? 0)) + 6).toFixed(1)}" y="${cy + 4}">${esc(text)}</text>`);
      y += barH + gap;
    }
    for (const m of g.marks ?? []) {
      const mx = x(m.value).toFixed(1);
      out.push(`<line x1="${mx}" x2="${mx}" y1="${top - 3}" y2="${y - gap + 3}" stroke="#d93025" stroke-dasharray="4 3"/>`,
        `<text x="${mx}" y="${top - 5}" text-anchor="middle" fill="#d93025" font-size="10">${esc(m.label)}</text>`);
    }
    y += 10;
  }
  // axis
  out.push(`<line x1="${plotX}" x2="${plotX + plotW}" y1="${y}" y2="${y}" stroke="#5f6368"/>`);
  for (let v = 0; v <= axisMax + step / 2; v += step) {
    out.push(`<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${y}" y2="${y + 4}" stroke="#5f6368"/>`,
      `<text x="${x(v).toFixed(1)}" y="${y + 16}" text-anchor="middle" fill="#5f6368">${fmt(v)}</text>`);
  }
  out.push(`<text x="${plotX + plotW / 2}" y="${y + 32}" text-anchor="middle" fill="#5f6368">${esc(opts.caption ?? `${unit} (bar: median, whisker: p90)`)}</text>`);
  const H = y + 42;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="system-ui, sans-serif" font-size="12" role="img">` +
    `<rect width="${W}" height="${H}" fill="#fff"/>${out.join('')}</svg>`;
}
