import { describe, expect, it } from 'vitest';
import { cholesky, choleskyWithRidge, invertLower, pinvSolve, ScatterAccumulator, symmetricEigen } from '../../sdk/ood/linalg.js';
import { rng } from './helpers.js';

function randomSymmetric(n: number, seed: number): Float64Array {
  const r = rng(seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = r() * 2 - 1;
  return a;
}

describe('symmetricEigen', () => {
  it.each([1, 2, 3, 7, 40])('A·v = λ·v, orthonormal, descending (n = %i)', (n) => {
    const a = randomSymmetric(n, n);
    const { values, vectors } = symmetricEigen(a, n);
    let maxRes = 0;
    let maxOrth = 0;
    for (let k = 0; k < n; k++) {
      if (k > 0) expect(values[k]).toBeLessThanOrEqual(values[k - 1]);
      for (let i = 0; i < n; i++) {
        let av = 0;
        for (let j = 0; j < n; j++) av += a[i * n + j] * vectors[k * n + j];
        maxRes = Math.max(maxRes, Math.abs(av - values[k] * vectors[k * n + i]));
      }
      for (let l = 0; l < n; l++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += vectors[k * n + i] * vectors[l * n + i];
        maxOrth = Math.max(maxOrth, Math.abs(dot - (k === l ? 1 : 0)));
      }
    }
    expect(maxRes).toBeLessThan(1e-12);
    expect(maxOrth).toBeLessThan(1e-12);
  });

  it('known spectrum: diag(3, 1, 2) rotated', () => {
    // A = Q diag(3,1,2) Qᵀ with Q a rotation about z by 30°: eigenvalues 3, 2, 1; eigenvector of 2 is ±e_z.
    const c = Math.cos(Math.PI / 6), s = Math.sin(Math.PI / 6);
    const a = Float64Array.from([3 * c * c + s * s, (3 - 1) * c * s, 0, (3 - 1) * c * s, 3 * s * s + c * c, 0, 0, 0, 2]);
    const { values, vectors } = symmetricEigen(a, 3);
    expect(Array.from(values).map((v) => +v.toFixed(12))).toEqual([3, 2, 1]);
    expect(Math.abs(vectors[1 * 3 + 2])).toBeCloseTo(1, 12);
    expect(Math.abs(vectors[0 * 3 + 0])).toBeCloseTo(c, 12);
  });
});

describe('cholesky / ridge / inverse', () => {
  it('L·Lᵀ = A and L⁻¹·L = I on an SPD matrix', () => {
    const n = 6;
    const r = rng(5);
    const b = Array.from({ length: n * n }, () => r() - 0.5);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = i === j ? 0.1 : 0;
      for (let k = 0; k < n; k++) s += b[i * n + k] * b[j * n + k];
      a[i * n + j] = s;
    }
    const L = cholesky(a, n)!;
    const X = invertLower(L, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = 0, p = 0;
      for (let k = 0; k < n; k++) { s += L[i * n + k] * L[j * n + k]; p += X[i * n + k] * L[k * n + j]; }
      expect(s).toBeCloseTo(a[i * n + j], 12);
      expect(p).toBeCloseTo(i === j ? 1 : 0, 12);
    }
  });

  it('a singular covariance gets the smallest working ridge', () => {
    // rank-1: [[1,1],[1,1]] is not PD; with ridge 0 the first try fails, 1e-12·mean-variance succeeds.
    const a = Float64Array.from([1, 1, 1, 1]);
    expect(cholesky(a, 2)).toBeNull();
    const { L, ridge } = choleskyWithRidge(a, 2, 0);
    expect(ridge).toBe(1e-12);
    expect(L[0]).toBeCloseTo(Math.sqrt(1 + 1e-12), 12);
    expect(() => choleskyWithRidge(new Float64Array(4), 2, 1e-6)).toThrow(/trace/);
  });

  it('ScatterAccumulator gives the ML covariance', () => {
    const acc = new ScatterAccumulator(2);
    for (const v of [[1, 2], [-1, -2], [3, 0], [-3, 0]]) acc.add(Float64Array.from(v));
    expect(Array.from(acc.finish())).toEqual([5, 1, 1, 2]);
  });
});

describe('pinvSolve', () => {
  it('minimum-norm solution for a wide W (rows < cols)', () => {
    // W = [1 0 0; 0 1 1], y = (2, 4): x = (2, 2, 2) is the min-norm solution.
    const x = pinvSolve(Float64Array.from([1, 0, 0, 0, 1, 1]), 2, 3, [2, 4]);
    expect(Array.from(x).map((v) => +v.toFixed(10))).toEqual([2, 2, 2]);
  });
  it('least squares for a tall W (rows > cols)', () => {
    // W = [1; 1; 1] (3×1), y = (1, 2, 6): x = mean = 3.
    const x = pinvSolve([1, 1, 1], 3, 1, [1, 2, 6]);
    expect(x[0]).toBeCloseTo(3, 12);
  });
  it('drops a singular direction', () => {
    // W = [[1, 1], [1, 1]], y = (2, 2): rank 1, min-norm x = (1, 1).
    const x = pinvSolve([1, 1, 1, 1], 2, 2, [2, 2]);
    expect(x[0]).toBeCloseTo(1, 10);
    expect(x[1]).toBeCloseTo(1, 10);
  });
});
