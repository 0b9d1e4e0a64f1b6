// Outlier tokens, measured: per layer × scheme statistics of the residual stream and attention, their change from
// fp32, and how per-image outlier measures rank-correlate with OOD scores.
//
// Per image and layer l (after block l; T tokens, D channels, H heads):
//   normMax, normMedian   max / median over tokens of ‖x_t‖₂
//   outlierFrac           fraction of tokens with ‖x_t‖₂ > 5 · normMedian
//   actMax, actMedian     max / median over all T·D values of |x_td| (massive activations: Sun et al. 2024)
//   sinkShare             attention-sink share: per head h the key k*_h receiving the most mass Σ_i A_h[i, k];
//                         share_h = (1/T) Σ_i A_h[i, k*_h] (mass per query, rows sum to 1); averaged over heads
//   sinkIsCls             fraction of heads whose k*_h is the class token (token 0; 0 for a model without one)
// Prefix tokens (class, registers: timm's reg_token), per layer, beside the patches:
//   clsNorm, regNorm      ‖x_cls‖₂; mean over registers of ‖x_reg‖₂ (null where the model has none)
//   patchNorm             median over patch tokens of ‖x_t‖₂
//   clsAttn, regAttn      attention share received: (1/H)(1/T) Σ_h Σ_i A_h[i, k] over k = the class token, or summed
//                         over all registers (mass per query; all T keys together receive 1)
//   sinkIsReg             fraction of heads whose k*_h is a register
// Layer rows average these over images. vsFp32 = value / the fp32 value of the same layer and measure.
// Per-image summaries for correlation: normRatio = max_l normMax/normMedian, outlierFrac = mean_l, actRatio =
// max_l actMax/actMedian, sinkShare = mean_l; Spearman's ρ (average ranks for ties) against each OOD score over all
// images of all --data sets pooled.

import { VitguardError } from '../errors.js';
import { Engine, type ForwardResult, type WasmChoice } from '../engine/index.js';
import type { ModelFile, ViTConfig } from '../format/model.js';
import { numPrefixTokens, numTokens, tokenLayout } from '../format/model.js';
import type { OpenDatasetOptions } from '../data/index.js';
import { createScorer, type ScorerName } from '../ood/index.js';
import { extractFeatures, limitSpec, openNonEmpty } from './features.js';
import { checkSchemes, modelForScheme } from './schemes.js';

export const OUTLIER_FACTOR = 5;
export const LAYER_MEASURES = ['normMax', 'normMedian', 'outlierFrac', 'actMax', 'actMedian', 'sinkShare', 'sinkIsCls'] as const;
export type LayerMeasure = (typeof LAYER_MEASURES)[number];
export type LayerStats = Record<LayerMeasure, number>;
export const IMAGE_MEASURES = ['normRatio', 'outlierFrac', 'actRatio', 'sinkShare'] as const;
export type ImageMeasure = (typeof IMAGE_MEASURES)[number];

// --- measures (pure) ---------------------------------------------------------------------------------------------

export function median(x: ArrayLike<number>): number {
  if (x.length === 0) throw new VitguardError('E_INPUT', 'median of an empty array');
  const s = Float64Array.from(x).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Token-norm statistics of one layer: norms [T]. */
export function tokenNormStats(norms: ArrayLike<number>): { normMax: number; normMedian: number; outlierFrac: number } {
  const med = median(norms);
  let max = -Infinity, out = 0;
  for (let i = 0; i < norms.length; i++) {
    if (norms[i] > max) max = norms[i];
    if (norms[i] > OUTLIER_FACTOR * med) out++;
  }
  return { normMax: max, normMedian: med, outlierFrac: out / norms.length };
}

/** |activation| statistics of one layer's residual stream [T, D]. */
export function absActStats(hidden: ArrayLike<number>): { actMax: number; actMedian: number } {
  const a = new Float64Array(hidden.length);
  let max = 0;
  for (let i = 0; i < hidden.length; i++) {
    a[i] = Math.abs(hidden[i]);
    if (a[i] > max) max = a[i];
  }
  return { actMax: max, actMedian: median(a) };
}

/** Attention-sink share of one layer's probabilities [H, T, T] (definition at the top of the file). */
export function sinkShare(attn: ArrayLike<number>, heads: number, T: number): { sinkShare: number; sinkIsCls: number; topKeys: number[] } {
  if (attn.length !== heads * T * T) throw new VitguardError('E_INPUT', `attention has ${attn.length} values, expected heads·T·T = ${heads}·${T}·${T}`);
  let share = 0, cls = 0;
  const topKeys: number[] = [];
  const recv = new Float64Array(T);
  for (let h = 0; h < heads; h++) {
    recv.fill(0);
    const o = h * T * T;
    for (let i = 0; i < T; i++) for (let k = 0; k < T; k++) recv[k] += attn[o + i * T + k];
    let best = 0;
    for (let k = 1; k < T; k++) if (recv[k] > recv[best]) best = k;
    topKeys.push(best);
    share += recv[best] / T;
    if (best === 0) cls++;
  }
  return { sinkShare: share / heads, sinkIsCls: cls / heads, topKeys };
}

/** Every layer's measures for one image (forward run with attention, tokenNorms and hidden). */
export function layerStats(r: ForwardResult, c: ViTConfig): LayerStats[] {
  if (!r.attention || !r.tokenNorms || !r.hidden) throw new VitguardError('E_INPUT', 'layerStats needs a forward result with attention, tokenNorms and hidden');
  const T = numTokens(c);
  const hasCls = tokenLayout(c).classToken;
  return r.hidden.map((h, l) => ({ ...tokenNormStats(r.tokenNorms![l]), ...absActStats(h), ...(({ sinkShare: s, sinkIsCls: k }) => ({ sinkShare: s, sinkIsCls: hasCls ? k : 0 }))(sinkShare(r.attention![l], c.heads, T)) }));
}

export const PREFIX_MEASURES = ['clsNorm', 'regNorm', 'patchNorm', 'clsAttn', 'regAttn', 'sinkIsReg'] as const;
export type PrefixMeasure = (typeof PREFIX_MEASURES)[number];
/** null: the model has no such token (no class token, or no registers). */
export type PrefixStats = Record<PrefixMeasure, number | null>;

/** The class token's and the registers' norms and attention share beside the patches', per layer (definitions at the top). */
export function prefixStats(r: ForwardResult, c: ViTConfig): PrefixStats[] {
  if (!r.attention || !r.tokenNorms) throw new VitguardError('E_INPUT', 'prefixStats needs a forward result with attention and tokenNorms');
  const { classToken, regTokens } = tokenLayout(c);
  const T = numTokens(c), H = c.heads, first = numPrefixTokens(c);
  const reg0 = first - regTokens; // registers come last among the prefix tokens (after class and distillation)
  return r.tokenNorms.map((norms, l) => {
    const A = r.attention![l];
    const recv = new Float64Array(T); // mass each key receives, summed over heads and queries
    let regSinks = 0;
    const perHead = new Float64Array(T);
    for (let h = 0; h < H; h++) {
      perHead.fill(0);
      for (let i = 0; i < T; i++) for (let k = 0; k < T; k++) perHead[k] += A[(h * T + i) * T + k];
      let best = 0;
      for (let k = 1; k < T; k++) if (perHead[k] > perHead[best]) best = k;
      if (best >= reg0 && best < first) regSinks++;
      for (let k = 0; k < T; k++) recv[k] += perHead[k];
    }
    let regNorm = 0, regAttn = 0;
    for (let k = reg0; k < first; k++) { regNorm += norms[k]; regAttn += recv[k]; }
    return {
      clsNorm: classToken ? norms[0] : null,
      regNorm: regTokens ? regNorm / regTokens : null,
      patchNorm: median(norms.subarray(first)),
      clsAttn: classToken ? recv[0] / (H * T) : null,
      regAttn: regTokens ? regAttn / (H * T) : null,
      sinkIsReg: regTokens ? regSinks / H : null,
    };
  });
}

export function imageSummary(layers: LayerStats[]): Record<ImageMeasure, number> {
  const L = layers.length;
  return {
    normRatio: Math.max(...layers.map((s) => s.normMax / s.normMedian)),
    outlierFrac: layers.reduce((a, s) => a + s.outlierFrac, 0) / L,
    actRatio: Math.max(...layers.map((s) => s.actMax / (s.actMedian || Number.MIN_VALUE))),
    sinkShare: layers.reduce((a, s) => a + s.sinkShare, 0) / L,
  };
}

/** Average ranks (1-based), ties share their mean rank. */
export function ranks(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const r = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && x[idx[j + 1]] === x[idx[i]]) j++;
    for (let k = i; k <= j; k++) r[idx[k]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

/** Spearman's ρ: Pearson correlation of average ranks; NaN-free inputs required; null if either side is constant. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number | null {
  if (a.length !== b.length) throw new VitguardError('E_INPUT', `spearman: ${a.length} vs ${b.length} values`);
  if (a.length < 3) throw new VitguardError('E_INPUT', `spearman needs at least 3 pairs, got ${a.length}`);
  for (const [v, w] of [[a, 'first'], [b, 'second']] as const) {
    for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) throw new VitguardError('E_NONFINITE', `spearman: ${w} series [${i}] is ${v[i]}`);
  }
  const ra = ranks(a), rb = ranks(b), n = a.length;
  const ma = (n + 1) / 2;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (ra[i] - ma) * (rb[i] - ma);
    saa += (ra[i] - ma) ** 2;
    sbb += (rb[i] - ma) ** 2;
  }
  return saa === 0 || sbb === 0 ? null : sab / Math.sqrt(saa * sbb);
}

// --- the command -------------------------------------------------------------------------------------------------

export interface InspectLayerRow extends LayerStats {
  scheme: string;
  layer: number;
  /** value / fp32 value per measure (null when fp32 is 0 or not inspected). */
  vsFp32: Record<LayerMeasure, number | null>;
  /** The class token's and the registers' norms and attention share, beside the patches' (averaged over images). */
  prefix: PrefixStats;
}

export interface InspectCorrelation {
  scheme: string;
  measure: ImageMeasure;
  score: ScorerName;
  spearman: number | null;
  n: number;
}

export interface InspectResult {
  format: 'vitguard-inspect/1';
  model: string;
  data: string[];
  schemes: string[];
  nImages: number;
  outlierFactor: number;
  layers: InspectLayerRow[];
  correlations: InspectCorrelation[];
  definitions: string;
}

export const INSPECT_DEFINITIONS =
  'per layer (after each block), averaged over images: normMax/normMedian = max/median token L2 norm; outlierFrac = fraction ' +
  `of tokens with norm > ${OUTLIER_FACTOR}x the median; actMax/actMedian = max/median |activation| of the residual stream; sinkShare = ` +
  'per head, the mass the top-1 key (most total mass received) gets per query, averaged over heads; sinkIsCls = fraction of heads ' +
  'whose top-1 key is the class token; vsFp32 = value / fp32 value. Correlations: Spearman rho over images pooled from all data ' +
  'sets between per-image measures (normRatio = max over layers of normMax/normMedian, outlierFrac and sinkShare = mean over layers, ' +
  'actRatio = max over layers of actMax/actMedian) and OOD scores (higher = more in-distribution). Prefix tokens: clsNorm and regNorm = ' +
  'L2 norm of the class token and mean over registers; patchNorm = median over patch tokens; clsAttn and regAttn = attention share ' +
  'the class token and all registers together receive (mass per query, averaged over heads; all tokens receive 1); sinkIsReg = ' +
  'fraction of heads whose top-1 key is a register; null = the model has no such token.';

export interface InspectConfig {
  model: { name: string; file: ModelFile };
  data: string[];
  schemes: string[];
  scores?: ScorerName[];
  limit?: number;
  calib?: { images: Float32Array; n: number };
  wasm?: WasmChoice;
  dataOpts?: OpenDatasetOptions;
  log?: (line: string) => void;
}

export async function runInspect(cfg: InspectConfig): Promise<InspectResult> {
  checkSchemes(cfg.schemes);
  if (cfg.data.length === 0) throw new VitguardError('E_USAGE', 'inspect needs --data SPEC');
  const scores = cfg.scores ?? ['msp', 'maxlogit', 'energy'];
  const scorers = scores.map((s) => createScorer(s));
  for (const s of scorers) if (s.needsFit) throw new VitguardError('E_USAGE', `inspect correlates with logit scores only (msp, maxlogit, energy, gen); ${s.name} needs fitting`);
  const specs = cfg.data.map((s) => limitSpec(s, cfg.limit));
  const sets = await Promise.all(specs.map((s) => openNonEmpty(s, 'data', cfg.dataOpts ?? {})));
  const c = cfg.model.file.meta.config;
  const layers: InspectLayerRow[] = [];
  const correlations: InspectCorrelation[] = [];
  let nImages = 0;
  for (const scheme of cfg.schemes) {
    const file = await modelForScheme(cfg.model.file, scheme, { calib: cfg.calib, wasm: cfg.wasm });
    const engine = await Engine.create(file, { wasm: cfg.wasm, maxBatch: 16 });
    const sums: LayerStats[] = Array.from({ length: c.depth }, () => Object.fromEntries(LAYER_MEASURES.map((m) => [m, 0])) as LayerStats);
    const prefixSums: PrefixStats[] = Array.from({ length: c.depth }, () => Object.fromEntries(PREFIX_MEASURES.map((m) => [m, null])) as PrefixStats);
    const perImage: Record<ImageMeasure, number[]> = { normRatio: [], outlierFrac: [], actRatio: [], sinkShare: [] };
    const perScore: number[][] = scorers.map(() => []);
    let n = 0;
    try {
      for (const ds of sets) {
        await extractFeatures(engine, ds, {
          fwd: { attention: true, tokenNorms: true, hidden: true },
          each: (r) => {
            const st = layerStats(r, c);
            st.forEach((s, l) => { for (const m of LAYER_MEASURES) sums[l][m] += s[m]; });
            prefixStats(r, c).forEach((s, l) => { for (const m of PREFIX_MEASURES) if (s[m] !== null) prefixSums[l][m] = (prefixSums[l][m] ?? 0) + s[m]!; });
            const sum = imageSummary(st);
            for (const m of IMAGE_MEASURES) perImage[m].push(sum[m]);
            scorers.forEach((s, j) => perScore[j].push(s.score(r.logits, r.feature)));
            n++;
          },
        });
      }
    } finally {
      engine.dispose();
    }
    nImages = n;
    sums.forEach((s, l) => {
      const prefix = Object.fromEntries(PREFIX_MEASURES.map((m) => [m, prefixSums[l][m] === null ? null : prefixSums[l][m]! / n])) as PrefixStats;
      const row = { scheme, layer: l, ...Object.fromEntries(LAYER_MEASURES.map((m) => [m, s[m] / n])), prefix } as InspectLayerRow;
      layers.push(row);
    });
    for (const m of IMAGE_MEASURES) {
      scorers.forEach((s, j) => correlations.push({ scheme, measure: m, score: s.name, spearman: spearman(perImage[m], perScore[j]), n }));
    }
    cfg.log?.(`  ${scheme}: ${n} images inspected`);
  }
  for (const r of layers) {
    const f = layers.find((x) => x.scheme === 'fp32' && x.layer === r.layer);
    r.vsFp32 = Object.fromEntries(LAYER_MEASURES.map((m) => [m, f && f[m] !== 0 ? r[m] / f[m] : null])) as Record<LayerMeasure, number | null>;
  }
  return { format: 'vitguard-inspect/1', model: cfg.model.name, data: specs, schemes: cfg.schemes, nImages, outlierFactor: OUTLIER_FACTOR, layers, correlations, definitions: INSPECT_DEFINITIONS };
}

export function inspectText(res: InspectResult): string {
  const f = (x: number, d = 3) => (Math.abs(x) >= 1000 ? x.toExponential(2) : x.toFixed(d));
  const ratio = (x: number | null) => (x === null ? '—' : `×${x.toFixed(2)}`);
  const head = ['scheme', 'layer', 'normMax', 'normMed', 'out>5x', 'actMax', 'actMed', 'sink', 'sink=cls', 'normMax vs fp32', 'actMax vs fp32', 'sink vs fp32'];
  const rows = res.layers.map((r) => [r.scheme, String(r.layer), f(r.normMax, 2), f(r.normMedian, 2), f(r.outlierFrac), f(r.actMax, 2), f(r.actMedian), f(r.sinkShare), f(r.sinkIsCls, 2),
    ratio(r.vsFp32.normMax), ratio(r.vsFp32.actMax), ratio(r.vsFp32.sinkShare)]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((x, i) => (i === 0 ? x.padEnd(w[i]) : x.padStart(w[i]))).join('  ');
  const out = [`${res.model}: ${res.nImages} images from ${res.data.join(', ')}`, line(head), ...rows.map(line), ''];
  // prefix tokens beside the patches: the registers' norms and attention share next to the class token's
  const opt = (x: number | null, d = 3) => (x === null ? '—' : f(x, d));
  const phead = ['scheme', 'layer', '|cls|', '|reg| mean', '|patch| med', 'attn>cls', 'attn>reg', 'sink=reg'];
  const prow = res.layers.map((r) => [r.scheme, String(r.layer), opt(r.prefix.clsNorm, 2), opt(r.prefix.regNorm, 2), opt(r.prefix.patchNorm, 2), opt(r.prefix.clsAttn), opt(r.prefix.regAttn), opt(r.prefix.sinkIsReg, 2)]);
  const pw = phead.map((h, i) => Math.max(h.length, ...prow.map((r) => r[i].length)));
  const pline = (cells: string[]) => cells.map((x, i) => (i === 0 ? x.padEnd(pw[i]) : x.padStart(pw[i]))).join('  ');
  out.push('Prefix tokens (class token, registers) beside the patches:', pline(phead), ...prow.map(pline), '');
  out.push('Spearman rho of per-image outlier measures with OOD scores (higher score = more in-distribution):');
  const scores = [...new Set(res.correlations.map((c) => c.score))];
  out.push(['scheme'.padEnd(10), 'measure'.padEnd(12), ...scores.map((s) => s.padStart(9))].join('  '));
  for (const scheme of res.schemes) {
    for (const m of IMAGE_MEASURES) {
      const cells = scores.map((s) => {
        const c = res.correlations.find((x) => x.scheme === scheme && x.measure === m && x.score === s)!;
        return (c.spearman === null ? '—' : c.spearman.toFixed(3)).padStart(9);
      });
      out.push([scheme.padEnd(10), m.padEnd(12), ...cells].join('  '));
    }
  }
  out.push('', res.definitions);
  return out.join('\n');
}

/**
 * A markdown section comparing models per scheme (e.g. a ViT with registers against the plain one): per model ×
 * scheme, summaries over layers of the layer measures and of the prefix-token measures.
 */
export function inspectMarkdown(results: InspectResult[]): string {
  const f = (x: number | null, d = 3) => (x === null || !Number.isFinite(x) ? '—' : Math.abs(x) >= 1000 ? x.toExponential(2) : x.toFixed(d));
  const maxOf = (xs: number[]) => Math.max(...xs);
  const meanOf = (xs: Array<number | null>) => (xs.some((x) => x === null) ? null : (xs as number[]).reduce((a, b) => a + b, 0) / xs.length);
  const rows: string[] = [];
  for (const res of results) {
    for (const scheme of res.schemes) {
      const L = res.layers.filter((r) => r.scheme === scheme);
      const last = L[L.length - 1].prefix;
      rows.push(`| ${res.model} | ${scheme} | ${f(maxOf(L.map((r) => r.normMax / r.normMedian)), 2)} | ${f(meanOf(L.map((r) => r.outlierFrac)))} | ` +
        `${f(maxOf(L.map((r) => r.actMax / r.actMedian)), 1)} | ${f(meanOf(L.map((r) => r.sinkShare)))} | ` +
        `${f(last.clsNorm === null ? null : last.clsNorm / last.patchNorm!, 2)} | ${f(last.regNorm === null ? null : last.regNorm / last.patchNorm!, 2)} | ` +
        `${f(meanOf(L.map((r) => r.prefix.clsAttn)))} | ${f(meanOf(L.map((r) => r.prefix.regAttn)))} | ${f(meanOf(L.map((r) => r.prefix.sinkIsReg)), 2)} |`);
    }
  }
  const r0 = results[0];
  return [
    '## Outlier tokens per model × scheme',
    '',
    `\`vitguard inspect\` on ${r0.nImages} images (${r0.data.join(', ')}) per model and scheme. Per layer the measures are averaged over images, then ` +
    'summarised over layers: the largest ratio of the max to the median token norm, the mean fraction of tokens above ' +
    `${OUTLIER_FACTOR}× the median norm, the largest max/median |activation|, the mean attention-sink share; the class token's and the ` +
    "registers' norms against the median patch norm in the last block; the attention share the class token and all registers receive " +
    '(mean over layers; all tokens together receive 1), and the fraction of heads whose top-1 key is a register. — = the model has no such token.',
    '',
    '| model | scheme | max norm / median | tokens > 5× median | max / median \\|act\\| | sink share | last \\|cls\\| / \\|patch\\| | last \\|reg\\| / \\|patch\\| | attention → cls | attention → registers | sink = register |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
  ].join('\n');
}
