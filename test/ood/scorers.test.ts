import { describe, expect, it } from 'vitest';
import {
  createScorer, energyScore, fitScorer, genScore, KnnScorer, MahalanobisScorer, maxLogitScore, mspScore, SCORER_NAMES,
  scoreAll, scorerFromJSON, VimScorer, type FitData, type ScorerName,
} from '../../sdk/ood/scorers.js';
import { decodeArray } from '../../sdk/ood/codec.js';
import { rng, codeOf } from './helpers.js';

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}
const f32 = (...v: number[]) => Float32Array.from(v);
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * b[i]; return s; };
const norm = (a: ArrayLike<number>) => Math.sqrt(dot(a, a));

// --- logit scorers ------------------------------------------------------------------------------------------------

describe('logit scorers: closed forms', () => {
  it('MSP', () => {
    expect(mspScore(f32(0, 0))).toBeCloseTo(0.5, 15);
    expect(mspScore(f32(Math.log(3), 0))).toBeCloseTo(0.75, 7);
    expect(mspScore(f32(1000, 1000, 1000, 1000))).toBeCloseTo(0.25, 15); // no overflow
  });
  it('MaxLogit', () => {
    expect(maxLogitScore(f32(-3, 2.5, 1))).toBe(2.5);
  });
  it('Energy = T·logsumexp(z/T)', () => {
    expect(energyScore(f32(0, 0))).toBeCloseTo(Math.LN2, 15);
    expect(energyScore(f32(2, 0), 2)).toBeCloseTo(2 * Math.log(Math.E + 1), 14);
    expect(energyScore(f32(1000, 1000))).toBeCloseTo(1000 + Math.LN2, 10);
    expect(createScorer('energy', { temperature: 2 }).score(f32(2, 0))).toBeCloseTo(2 * Math.log(Math.E + 1), 14);
  });
  it('GEN = −Σ_topM p^γ(1−p)^γ', () => {
    expect(genScore(f32(0, 0), 0.1)).toBeCloseTo(-2 * Math.pow(0.25, 0.1), 15);
    expect(genScore(f32(0, 0), 0.1, 1)).toBeCloseTo(-Math.pow(0.25, 0.1), 15);
    // 3 classes, top-2 of p = softmax(2, 1, 0)
    const e = [Math.exp(2), Math.exp(1), 1];
    const s = e[0] + e[1] + e[2];
    const p = e.map((v) => v / s);
    const g = (q: number) => Math.pow(q, 0.5) * Math.pow(1 - q, 0.5);
    expect(genScore(f32(1, 0, 2), 0.5, 2)).toBeCloseTo(-(g(p[0]) + g(p[1])), 7);
    // confident > flat
    expect(genScore(f32(10, 0, 0))).toBeGreaterThan(genScore(f32(0, 0, 0)));
  });
  it('logit scorers need no fit and ignore the feature', () => {
    for (const name of ['msp', 'maxlogit', 'energy', 'gen'] as const) {
      const s = createScorer(name);
      expect(s.needsFit).toBe(false);
      expect(s.fitted).toBe(true);
      expect(s.score(f32(1, 2, 3))).toBe(s.score(f32(1, 2, 3), f32(9, 9)));
    }
  });
});

// --- Mahalanobis: closed form on a designed covariance ------------------------------------------------------------

// Sylvester Hadamard H8 / √8: orthonormal rows q_k.
function hadamard8(): number[][] {
  let h = [[1]];
  for (let s = 0; s < 3; s++) h = [...h.map((r) => [...r, ...r]), ...h.map((r) => [...r, ...r.map((v) => -v)])];
  return h.map((r) => r.map((v) => v / Math.sqrt(8)));
}

describe('Mahalanobis: equals the closed form for a known covariance', () => {
  // Class c has the 16 points μ_c ± √8·σ_k·q_k: mean exactly μ_c, covariance exactly Σ = Q diag(σ²) Qᵀ, so
  // d²(x, μ_c) = Σ_k ((x − μ_c)·q_k)² / σ_k².
  const D = 8;
  const Q = hadamard8();
  const sigma = Array.from({ length: D }, (_, k) => 0.5 + 0.25 * k);
  const mu = [Array(D).fill(0).map((_, j) => (j === 0 ? 1 : 0)), Array(D).fill(0).map((_, j) => (j === 1 ? -2 : 0.5))];
  const features: Float32Array[] = [];
  const labels: number[] = [];
  mu.forEach((m, c) => {
    for (let k = 0; k < D; k++) {
      for (const sign of [1, -1]) {
        features.push(Float32Array.from(m.map((v, j) => v + sign * Math.sqrt(D) * sigma[k] * Q[k][j])));
        labels.push(c);
      }
    }
  });
  const d2 = (x: ArrayLike<number>, m: number[]) => Q.reduce((s, q, k) => s + (dot(q, x.length ? Array.from(x, (v, j) => v - m[j]) : []) / sigma[k]) ** 2, 0);
  const r = rng(11);
  const probes = Array.from({ length: 12 }, () => Float32Array.from({ length: D }, () => 3 * gauss(r)));

  it('mahalanobis score = −min_c d²(x, μ_c)', () => {
    const s = createScorer('mahalanobis', { ridge: 0 }).fit({ features, labels });
    for (const x of probes) {
      const want = -Math.min(d2(x, mu[0]), d2(x, mu[1]));
      expect(s.score(f32(0), x)).toBeCloseTo(want, 3);
      expect(Math.abs(s.score(f32(0), x) / want - 1)).toBeLessThan(1e-5);
    }
    const fitted = s.toJSON().fitted as { ridge: number };
    expect(fitted.ridge).toBe(0);
    expect((s as MahalanobisScorer).distances(Float32Array.from(mu[1])).nearestClass).toBe(1);
  });

  it('relative Mahalanobis = −(min_c d²_c − d²_background), background by Sherman–Morrison', () => {
    // Background: mean μ̄ = (μ0+μ1)/2, covariance Σ + v·vᵀ with v = (μ1 − μ0)/2 (equal class sizes).
    const mbar = mu[0].map((v, j) => (v + mu[1][j]) / 2);
    const v = mu[0].map((a, j) => (mu[1][j] - a) / 2);
    const sinv = (x: number[]) => Q.reduce((acc, q, k) => acc.map((a, j) => a + (dot(q, x) / sigma[k] ** 2) * q[j]), Array(D).fill(0) as number[]);
    const sinvV = sinv(v);
    const s = createScorer('rmahalanobis', { ridge: 0 }).fit({ features, labels });
    for (const x of probes) {
      const delta = Array.from(x, (a, j) => a - mbar[j]);
      const bg = dot(delta, sinv(delta)) - dot(delta, sinvV) ** 2 / (1 + dot(v, sinvV));
      const want = -(Math.min(d2(x, mu[0]), d2(x, mu[1])) - bg);
      expect(Math.abs(s.score(f32(0), x) - want)).toBeLessThan(1e-4 * (1 + Math.abs(bg)));
    }
  });
});

// --- two Gaussian classes in 8-D: near beats far ------------------------------------------------------------------

describe('feature scorers on two Gaussian classes in 8-D', () => {
  // Class means ±3·e0; noise σ = 1 on dims 0..3, 0.1 on dims 4..7. Head: logits (x0, −x0), so u = −W⁺b = 0.
  const D = 8;
  const r = rng(3);
  const sample = (c: number) => Float32Array.from({ length: D }, (_, j) => (j === 0 ? (c ? -3 : 3) : 0) + gauss(r) * (j < 4 ? 1 : 0.1));
  const features: Float32Array[] = [];
  const labels: number[] = [];
  for (let i = 0; i < 400; i++) { features.push(sample(i % 2)); labels.push(i % 2); }
  const weight = new Float32Array(2 * D);
  weight[0] = 1;
  weight[D] = -1;
  const head = { weight, bias: new Float32Array(2) };
  const logitsOf = (x: Float32Array) => f32(x[0], -x[0]);
  const fit: FitData = { features, labels, head };
  const e = (j: number, a: number) => Float32Array.from({ length: D }, (_, i) => (i === j ? a : 0));
  const near = [e(0, 3), e(0, -3), f32(3.1, 0.1, -0.1, 0.2, 0.01, 0, 0, 0), f32(-2.9, -0.2, 0, 0.1, 0, 0.02, 0, 0)];
  // "Far" depends on what each score measures (cosine KNN is scale-free; RMD cancels directions where the class
  // and background Gaussians agree; ViM's energy likes large x0): each gets the far points its definition flags.
  const far: Record<string, Float32Array[]> = {
    mahalanobis: [e(0, 0), e(0, 20), e(0, -20), f32(0, 0, 0, 0, 3, 3, 0, 0), e(1, 6)],
    rmahalanobis: [e(0, 0), e(0, 20), e(0, -20)],
    knn: [e(1, 5), f32(0, 0, 0, 0, 3, 3, 0, 0), f32(0, 1, -1, 1, 0, 0, 0, 0)],
    vim: [e(0, 0), f32(0, 0, 0, 0, 3, 3, 0, 0), e(7, 2)],
  };
  for (const name of ['mahalanobis', 'rmahalanobis', 'knn', 'vim'] as const) {
    it(`${name}: every near-mean point scores above every far point`, () => {
      const s = fitScorer(name, fit, name === 'knn' ? { k: 10 } : name === 'vim' ? { principalDim: 4 } : {});
      const nearScores = near.map((x) => s.score(logitsOf(x), x));
      const farScores = far[name].map((x) => s.score(logitsOf(x), x));
      expect(Math.min(...nearScores)).toBeGreaterThan(Math.max(...farScores));
    });
  }
});

// --- KNN ----------------------------------------------------------------------------------------------------------

describe('KNN (cosine)', () => {
  const D = 8;
  const r = rng(21);
  const bank = Array.from({ length: 60 }, () => Float32Array.from({ length: D }, () => gauss(r)));
  const probes = Array.from({ length: 10 }, () => Float32Array.from({ length: D }, () => gauss(r)));
  const cosines = (x: Float32Array) => bank.map((b) => dot(b, x) / (norm(b) * norm(x))).sort((a, b) => b - a);

  it('k = 1: score = −√(2 − 2·max cos), the unit-vector distance to the nearest', () => {
    const s = createScorer('knn', { k: 1, bankDtype: 'f32' }).fit({ features: bank });
    for (const x of probes) expect(s.score(f32(0), x)).toBeCloseTo(-Math.sqrt(2 - 2 * cosines(x)[0]), 6);
    // a stored feature (any scale) is at distance 0 from itself
    expect(s.score(f32(0), bank[7].map((v) => v * 3))).toBeCloseTo(0, 3);
  });
  it('k = 5 uses the 5th largest cosine; f16 bank within 2e-3', () => {
    const s32 = createScorer('knn', { k: 5, bankDtype: 'f32' }).fit({ features: bank });
    const s16 = createScorer('knn', { k: 5 }).fit({ features: bank });
    for (const x of probes) {
      const want = -Math.sqrt(2 - 2 * cosines(x)[4]);
      expect(s32.score(f32(0), x)).toBeCloseTo(want, 6);
      expect(Math.abs(s16.score(f32(0), x) - want)).toBeLessThan(2e-3);
    }
  });
  it('the bank is capped by a seeded subsample; flat N×D input works', () => {
    const flat = new Float32Array(bank.length * D);
    bank.forEach((b, i) => flat.set(b, i * D));
    const a = createScorer('knn', { k: 3, maxBank: 20, seed: 1 }).fit({ features: flat, dim: D }) as KnnScorer;
    const b = createScorer('knn', { k: 3, maxBank: 20, seed: 1 }).fit({ features: bank }) as KnnScorer;
    const c = createScorer('knn', { k: 3, maxBank: 20, seed: 2 }).fit({ features: bank }) as KnnScorer;
    expect(a.bankSize).toBe(20);
    expect(JSON.stringify(a.toJSON())).toBe(JSON.stringify(b.toJSON()));
    expect(JSON.stringify(a.toJSON())).not.toBe(JSON.stringify(c.toJSON()));
    // f16 storage: 20 × 8 × 2 bytes = 320 bytes → 428 base64 chars
    expect(((a.toJSON().fitted as { bank: { b64: string } }).bank.b64).length).toBe(Math.ceil(320 / 3) * 4);
  });
});

// --- ViM ----------------------------------------------------------------------------------------------------------

describe('ViM', () => {
  // Features live on u + span(b1, b2, b3) (plus 1e-4 noise in the complement), D = 10, C = 4.
  const D = 10, C = 4, K = 3;
  const r = rng(31);
  const weight = Float32Array.from({ length: C * D }, () => gauss(r));
  const bias = Float32Array.from({ length: C }, () => gauss(r));
  const head = { weight, bias };
  const vim0 = createScorer('vim', { principalDim: K }).fit({ features: [Float32Array.from({ length: D }, () => gauss(r)), Float32Array.from({ length: D }, () => gauss(r)), Float32Array.from({ length: D }, () => gauss(r)), Float32Array.from({ length: D }, () => gauss(r))], head });
  const u = decodeArray((vim0.toJSON().fitted as { origin: unknown }).origin, 'origin');
  // an orthonormal basis: Gram–Schmidt on random vectors; the first K span the subspace, the rest its complement
  const basis: number[][] = [];
  while (basis.length < D) {
    let v = Array.from({ length: D }, () => gauss(r));
    for (const b of basis) { const p = dot(v, b); v = v.map((x, j) => x - p * b[j]); }
    const n = norm(v);
    basis.push(v.map((x) => x / n));
  }
  const point = (coef: number[], off = 0, offDir = K) =>
    Float32Array.from({ length: D }, (_, j) => u[j] + coef.reduce((s, c, k) => s + c * basis[k][j], 0) + off * basis[offDir][j]);
  const features = Array.from({ length: 300 }, () => point([5 * gauss(r), 3 * gauss(r), 2 * gauss(r)], 1e-4 * gauss(r), K + Math.floor(r() * (D - K))));
  const logitsOf = (x: Float32Array) => Float32Array.from({ length: C }, (_, c) => bias[c] + dot(weight.subarray(c * D, (c + 1) * D), x));

  it('origin u = −W⁺b satisfies W·u + b = 0 (C < D)', () => {
    for (const z of logitsOf(u)) expect(Math.abs(z)).toBeLessThan(1e-5);
  });
  it('residual is ~0 inside the principal subspace and equals the offset outside it', () => {
    const s = createScorer('vim', { principalDim: K }).fit({ features, head }) as VimScorer;
    expect(s.residualNorm(point([4, -2, 1]))).toBeLessThan(1e-3);
    expect(s.residualNorm(point([4, -2, 1], 2, K + 2))).toBeCloseTo(2, 3);
    expect(s.residualNorm(point([0, 0, 0], 0.5, D - 1))).toBeCloseTo(0.5, 3);
  });
  it('α = mean max-logit / mean residual norm; score = energy − α·residual', () => {
    const s = createScorer('vim', { principalDim: K }).fit({ features, head }) as VimScorer;
    const meanMax = features.reduce((a, x) => a + Math.max(...logitsOf(x)), 0) / features.length;
    const meanRes = features.reduce((a, x) => a + s.residualNorm(x), 0) / features.length;
    expect(s.fittedAlpha / (meanMax / meanRes)).toBeCloseTo(1, 5);
    const x = point([1, 1, 1], 0.3, K);
    expect(s.score(logitsOf(x), x)).toBeCloseTo(energyScore(logitsOf(x)) - s.fittedAlpha * s.residualNorm(x), 9);
    // given logits instead of the head's own: same α
    const t = createScorer('vim', { principalDim: K }).fit({ features, head, logits: features.map(logitsOf) }) as VimScorer;
    expect(t.fittedAlpha / s.fittedAlpha).toBeCloseTo(1, 5);
  });
});

// --- serialisation ------------------------------------------------------------------------------------------------

describe('toJSON / scorerFromJSON round trip gives identical scores', () => {
  const D = 12, C = 3;
  const r = rng(41);
  const features = Array.from({ length: 120 }, (_, i) => Float32Array.from({ length: D }, (_, j) => (j === i % C ? 2 : 0) + gauss(r)));
  const labels = Int32Array.from(features.map((_, i) => i % C));
  const weight = Float32Array.from({ length: C * D }, (_, k) => (k % D === Math.floor(k / D) ? 1 : 0.05 * gauss(r)));
  const head = { weight, bias: Float32Array.of(0.1, -0.2, 0.3) };
  const probes = Array.from({ length: 20 }, () => Float32Array.from({ length: D }, () => 2 * gauss(r)));
  const logitsOf = (x: Float32Array) => Float32Array.from({ length: C }, (_, c) => head.bias[c] + dot(weight.subarray(c * D, (c + 1) * D), x));
  const options: Partial<Record<ScorerName, object>> = { energy: { temperature: 1.5 }, gen: { gamma: 0.2, topM: 2 }, knn: { k: 5 } };
  for (const name of SCORER_NAMES) {
    it(name, () => {
      const s = createScorer(name, options[name]).fit({ features, labels, head });
      const text = JSON.stringify(s.toJSON());
      const back = scorerFromJSON(text);
      expect(back.name).toBe(name);
      expect(back.fitted).toBe(true);
      const a = scoreAll(s, probes.map(logitsOf), probes);
      const b = scoreAll(back, probes.map(logitsOf), probes);
      expect(Array.from(b)).toEqual(Array.from(a));
      expect(JSON.stringify(back.toJSON())).toBe(text);
    });
  }
});

// --- errors -------------------------------------------------------------------------------------------------------

describe('errors', () => {
  const feats = [f32(1, 0), f32(0, 1), f32(1, 1), f32(-1, 0.5)];
  it('a scorer that needs fitting, used unfitted → E_OOD', () => {
    for (const name of ['mahalanobis', 'rmahalanobis', 'knn', 'vim'] as const) {
      const s = createScorer(name);
      expect(s.fitted).toBe(false);
      expect(codeOf(() => s.score(f32(1, 2), f32(1, 2)))).toBe('E_OOD');
      expect(codeOf(() => s.toJSON().fitted)).toBeUndefined();
      expect(codeOf(() => scorerFromJSON(s.toJSON()))).toBe('E_OOD');
    }
  });
  it('NaN / Inf in logits or feature → E_NONFINITE', () => {
    expect(codeOf(() => createScorer('msp').score(f32(1, NaN)))).toBe('E_NONFINITE');
    expect(codeOf(() => createScorer('maxlogit').score(f32(NaN, 1)))).toBe('E_NONFINITE');
    expect(codeOf(() => createScorer('energy').score(f32(Infinity, 1)))).toBe('E_NONFINITE');
    const k = createScorer('knn', { k: 1 }).fit({ features: feats });
    expect(codeOf(() => k.score(f32(0), f32(NaN, 0)))).toBe('E_NONFINITE');
    expect(codeOf(() => createScorer('knn', { k: 1 }).fit({ features: [f32(1, NaN)] }))).toBe('E_NONFINITE');
  });
  it('wrong widths, missing inputs → E_INPUT; missing fit ingredients → E_OOD', () => {
    const k = createScorer('knn', { k: 1 }).fit({ features: feats });
    expect(codeOf(() => k.score(f32(0), f32(1, 2, 3)))).toBe('E_INPUT');
    expect(codeOf(() => k.score(f32(0)))).toBe('E_INPUT');
    expect(codeOf(() => createScorer('mahalanobis').fit({ features: feats }))).toBe('E_OOD'); // no labels
    expect(codeOf(() => createScorer('mahalanobis').fit({ features: feats, labels: [0, 1] }))).toBe('E_INPUT');
    expect(codeOf(() => createScorer('vim').fit({ features: feats }))).toBe('E_OOD'); // no head
    expect(codeOf(() => createScorer('knn').fit({ features: feats }))).toBe('E_OOD'); // k = 50 > 4
    expect(codeOf(() => createScorer('knn').fit({ features: [] }))).toBe('E_OOD');
    expect(codeOf(() => createScorer('knn').fit({ features: new Float32Array(8) }))).toBe('E_INPUT'); // flat, no dim
  });
  it('bad method names and options → E_OOD', () => {
    expect(codeOf(() => createScorer('odin' as ScorerName))).toBe('E_OOD');
    expect(codeOf(() => createScorer('knn', { temperature: 2 }))).toBe('E_OOD');
    expect(codeOf(() => createScorer('knn', { k: 0 }))).toBe('E_OOD');
    expect(codeOf(() => createScorer('energy', { temperature: -1 }))).toBe('E_OOD');
    expect(codeOf(() => scorerFromJSON('{"format":"nope"}'))).toBe('E_OOD');
    expect(codeOf(() => scorerFromJSON('not json'))).toBe('E_OOD');
  });
});
