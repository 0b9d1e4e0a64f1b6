// Dense linear algebra for fitting OOD scorers: covariance, symmetric eigen-decomposition, Cholesky, pseudo-inverse.
// Everything is f64, row-major, square n×n (n ≤ 768 in practice: the ViT feature width). Correct first:
// the eigensolver is Householder tridiagonalisation + implicit QL (EISPACK tred2/tql2, as in JAMA), O(n³).

import { VitguardError } from '../errors.js';

// --- covariance ---------------------------------------------------------------------------------------------------

/**
 * Accumulates Σᵢ vᵢ vᵢᵀ of D-vectors (upper triangle while adding, mirrored by `finish`).
 * Used for class-conditional (within-class) and background covariances: add centred vectors, then finish(N).
 */
export class ScatterAccumulator {
  readonly dim: number;
  readonly sum: Float64Array; // D×D, only j ≥ i filled until finish()
  count = 0;
  constructor(dim: number) {
    this.dim = dim;
    this.sum = new Float64Array(dim * dim);
  }
  /** Add v (length D, already centred by the caller). */
  add(v: Float64Array): void {
    const n = this.dim;
    const s = this.sum;
    for (let i = 0; i < n; i++) {
      const vi = v[i];
      if (vi === 0) continue;
      const row = i * n;
      for (let j = i; j < n; j++) s[row + j] += vi * v[j];
    }
    this.count++;
  }
  /** The symmetric matrix sum / divisor (divisor defaults to the count: the maximum-likelihood covariance). */
  finish(divisor = this.count): Float64Array {
    if (!(divisor > 0)) throw new VitguardError('E_OOD', 'covariance of zero vectors: no fit samples');
    const n = this.dim;
    const out = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) {
        const v = this.sum[i * n + j] / divisor;
        out[i * n + j] = v;
        out[j * n + i] = v;
      }
    }
    return out;
  }
}

// --- symmetric eigen-decomposition --------------------------------------------------------------------------------

export interface SymEig {
  /** Eigenvalues, descending. */
  values: Float64Array;
  /** n×n row-major; ROW k is the unit eigenvector of values[k]. */
  vectors: Float64Array;
}

/** Eigen-decomposition of the symmetric n×n matrix a (row-major; only read, never modified). */
export function symmetricEigen(a: Float64Array, n: number): SymEig {
  if (a.length !== n * n) throw new VitguardError('E_INPUT', `symmetricEigen: matrix has ${a.length} entries, expected ${n}×${n}`);
  const V = Float64Array.from(a); // row-major, V[i*n+j]
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n === 1) return { values: Float64Array.of(a[0]), vectors: Float64Array.of(1) };
  tred2(V, d, e, n);
  // tql2 rotates pairs of COLUMNS of V; work on the transpose Z so those become contiguous rows.
  const Z = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) Z[j * n + i] = V[i * n + j];
  tql2(Z, d, e, n);
  // Sort descending: values[k] with eigenvector row k.
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => d[y] - d[x]);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, k) => {
    values[k] = d[src];
    vectors.set(Z.subarray(src * n, src * n + n), k * n);
  });
  return { values, vectors };
}

// Householder reduction of the symmetric V (row-major n×n) to tridiagonal form; on return V holds the orthogonal
// transformation, d the diagonal and e the sub-diagonal (e[0] = 0).
function tred2(V: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) d[j] = V[(n - 1) * n + j];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = V[(i - 1) * n + j];
        V[i * n + j] = 0;
        V[j * n + i] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j];
        V[j * n + i] = f;
        g = e[j] + V[j * n + j] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += V[k * n + j] * d[k];
          e[k] += V[k * n + j] * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        for (let k = j; k <= i - 1; k++) V[k * n + j] -= f * e[k] + g * d[k];
        d[j] = V[(i - 1) * n + j];
        V[i * n + j] = 0;
      }
    }
    d[i] = h;
  }
  // Accumulate the transformations.
  for (let i = 0; i < n - 1; i++) {
    V[(n - 1) * n + i] = V[i * n + i];
    V[i * n + i] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V[k * n + i + 1] / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[k * n + i + 1] * V[k * n + j];
        for (let k = 0; k <= i; k++) V[k * n + j] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) V[k * n + i + 1] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = V[(n - 1) * n + j];
    V[(n - 1) * n + j] = 0;
  }
  V[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

// Implicit QL on the tridiagonal (d, e); Z is the TRANSPOSE of tred2's V (row k = column k of V), rotated in place.
function tql2(Z: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 100) throw new VitguardError('E_OOD', 'symmetricEigen: QL iteration did not converge (non-finite input?)');
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          // Rotate columns i, i+1 of V = rows i, i+1 of Z.
          const zi = i * n;
          const zi1 = (i + 1) * n;
          for (let k = 0; k < n; k++) {
            const hk = Z[zi1 + k];
            const vk = Z[zi + k];
            Z[zi1 + k] = s * vk + c * hk;
            Z[zi + k] = c * vk - s * hk;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
}

// --- Cholesky -----------------------------------------------------------------------------------------------------

/** Lower-triangular L with A = L·Lᵀ (row-major n×n, upper part zero), or null when A is not positive definite. */
export function cholesky(a: Float64Array, n: number): Float64Array | null {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= L[i * n + k] * L[j * n + k];
      if (i === j) {
        if (!(s > 0)) return null;
        L[i * n + i] = Math.sqrt(s);
      } else {
        L[i * n + j] = s / L[j * n + j];
      }
    }
  }
  return L;
}

/**
 * Cholesky of A + ridge·(tr A / n)·I, the ridge starting at `relRidge` and growing ×10 (up to 0.1) until A is
 * positive definite. Returns the factor and the relative ridge that was used.
 */
export function choleskyWithRidge(a: Float64Array, n: number, relRidge: number): { L: Float64Array; ridge: number } {
  let trace = 0;
  for (let i = 0; i < n; i++) trace += a[i * n + i];
  const scale = trace / n;
  if (!(scale > 0) || !Number.isFinite(scale)) {
    throw new VitguardError('E_OOD', `covariance has trace ${trace}: the fit features are constant or non-finite`);
  }
  if (!(relRidge >= 0)) throw new VitguardError('E_OOD', `ridge must be ≥ 0, got ${relRidge}`);
  const b = new Float64Array(a);
  let ridge = relRidge;
  for (;;) {
    for (let i = 0; i < n; i++) b[i * n + i] = a[i * n + i] + ridge * scale;
    const L = cholesky(b, n);
    if (L) return { L, ridge };
    if (ridge >= 0.1) break;
    ridge = Math.min(0.1, ridge > 0 ? ridge * 10 : 1e-12);
  }
  throw new VitguardError('E_OOD', 'covariance is not positive definite even with a ridge of 0.1 × mean variance');
}

/** Inverse of a lower-triangular L (row-major n×n); the result is lower-triangular. */
export function invertLower(L: Float64Array, n: number): Float64Array {
  const X = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    // Solve L·x = e_j for column j of X (x_i = 0 for i < j).
    X[j * n + j] = 1 / L[j * n + j];
    for (let i = j + 1; i < n; i++) {
      let s = 0;
      for (let k = j; k < i; k++) s += L[i * n + k] * X[k * n + j];
      X[i * n + j] = -s / L[i * n + i];
    }
  }
  return X;
}

// --- pseudo-inverse -----------------------------------------------------------------------------------------------

/**
 * Minimum-norm least-squares solution x = W⁺·y of W·x ≈ y, with W (rows×cols, row-major) and y (rows).
 * Through the eigen-decomposition of the smaller Gram matrix (W·Wᵀ or Wᵀ·W); singular values below
 * rcond·σ_max are treated as zero (rcond defaults to 1e-7, about f32 precision, since weights come from f32).
 */
export function pinvSolve(W: ArrayLike<number>, rows: number, cols: number, y: ArrayLike<number>, rcond = 1e-7): Float64Array {
  if (W.length !== rows * cols) throw new VitguardError('E_INPUT', `pinvSolve: W has ${W.length} entries, expected ${rows}×${cols}`);
  if (y.length !== rows) throw new VitguardError('E_INPUT', `pinvSolve: y has ${y.length} entries, expected ${rows}`);
  const x = new Float64Array(cols);
  if (rows <= cols) {
    // x = Wᵀ (W Wᵀ)⁺ y
    const G = new Float64Array(rows * rows);
    for (let i = 0; i < rows; i++) {
      for (let j = i; j < rows; j++) {
        let s = 0;
        for (let k = 0; k < cols; k++) s += W[i * cols + k] * W[j * cols + k];
        G[i * rows + j] = s;
        G[j * rows + i] = s;
      }
    }
    const z = applyPinvSym(G, rows, y, rcond);
    for (let i = 0; i < rows; i++) for (let k = 0; k < cols; k++) x[k] += W[i * cols + k] * z[i];
  } else {
    // x = (Wᵀ W)⁺ Wᵀ y
    const G = new Float64Array(cols * cols);
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < cols; i++) {
        const wi = W[r * cols + i];
        if (wi === 0) continue;
        for (let j = i; j < cols; j++) G[i * cols + j] += wi * W[r * cols + j];
      }
    }
    for (let i = 0; i < cols; i++) for (let j = 0; j < i; j++) G[i * cols + j] = G[j * cols + i];
    const wty = new Float64Array(cols);
    for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) wty[k] += W[r * cols + k] * y[r];
    x.set(applyPinvSym(G, cols, wty, rcond));
  }
  return x;
}

// G⁺·v for a symmetric positive semi-definite G (n×n); eigenvalues λ ≤ (rcond·σ_max)² = rcond²·λ_max are dropped.
function applyPinvSym(G: Float64Array, n: number, v: ArrayLike<number>, rcond: number): Float64Array {
  const { values, vectors } = symmetricEigen(G, n);
  const cutoff = rcond * rcond * Math.max(values[0], 0);
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    if (!(values[k] > cutoff)) continue;
    let c = 0;
    for (let i = 0; i < n; i++) c += vectors[k * n + i] * v[i];
    c /= values[k];
    for (let i = 0; i < n; i++) out[i] += c * vectors[k * n + i];
  }
  return out;
}
