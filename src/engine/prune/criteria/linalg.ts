/**
 * Small dense linear algebra in plain JS (Float64Array, row-major) for the reconstruction
 * criteria: normal equations (G + ridge I) X = B solved by Cholesky factorisation. The systems
 * are at most (kh*kw*channels)^2, small enough that float64 JS beats shipping them to a backend,
 * and float64 keeps the factorisation stable.
 */
import { LabError } from '../../errors';

/**
 * Lower-triangular L with L L^T = A (A symmetric positive definite, n x n). Returns null when a
 * pivot is not positive (A is singular or indefinite in floating point).
 */
export function cholesky(a: Float64Array, n: number): Float64Array | null {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let d = a[rj + j];
    for (let k = 0; k < j; k++) d -= l[rj + k] * l[rj + k];
    if (!(d > 0)) return null;
    const ljj = Math.sqrt(d);
    l[rj + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let s = a[ri + j];
      for (let k = 0; k < j; k++) s -= l[ri + k] * l[rj + k];
      l[ri + j] = s / ljj;
    }
  }
  return l;
}

/** Solve L L^T X = B for X (B is n x m, overwritten with X). */
export function choleskySolveInPlace(l: Float64Array, n: number, b: Float64Array, m: number): Float64Array {
  // Forward substitution: L Y = B.
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let k = 0; k < i; k++) {
      const lik = l[ri + k];
      if (lik === 0) continue;
      for (let c = 0; c < m; c++) b[i * m + c] -= lik * b[k * m + c];
    }
    const d = l[ri + i];
    for (let c = 0; c < m; c++) b[i * m + c] /= d;
  }
  // Back substitution: L^T X = Y.
  for (let i = n - 1; i >= 0; i--) {
    for (let k = i + 1; k < n; k++) {
      const lki = l[k * n + i];
      if (lki === 0) continue;
      for (let c = 0; c < m; c++) b[i * m + c] -= lki * b[k * m + c];
    }
    const d = l[i * n + i];
    for (let c = 0; c < m; c++) b[i * m + c] /= d;
  }
  return b;
}

/**
 * X = (A + ridge I)^-1 B for a symmetric positive semi-definite Gram matrix A (n x n) and B
 * (n x m). The ridge is relative: ridge * mean(diag A) (plus a tiny absolute floor, so an all-zero
 * A still solves to X = 0). If rounding leaves the matrix indefinite, the ridge is raised tenfold
 * and the factorisation retried, a few times at most. Inputs are not modified.
 */
export function solveNormalEquations(a: Float64Array, n: number, b: Float64Array, m: number, ridge = 1e-6): Float64Array {
  if (a.length !== n * n || b.length !== n * m) {
    throw new LabError('bad-argument', `The normal equations need a ${n}x${n} matrix and a ${n}x${m} right-hand side; found ${a.length} and ${b.length} values.`);
  }
  let trace = 0;
  for (let i = 0; i < n; i++) trace += a[i * n + i];
  const scale = n > 0 ? trace / n : 0;
  let r = ridge;
  for (let attempt = 0; attempt < 6; attempt++, r *= 10) {
    const shifted = new Float64Array(a);
    const add = r * scale + 1e-30;
    for (let i = 0; i < n; i++) shifted[i * n + i] += add;
    const l = cholesky(shifted, n);
    if (l) return choleskySolveInPlace(l, n, new Float64Array(b), m);
  }
  throw new LabError('bad-argument', `A ${n}x${n} least-squares system could not be solved: its matrix is not positive definite even with a ridge of ${r / 10} times its mean diagonal.`);
}

/** Symmetric matrix-vector product y = A x (A n x n). */
export function matVec(a: Float64Array, n: number, x: ArrayLike<number>): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    const ri = i * n;
    for (let k = 0; k < n; k++) s += a[ri + k] * x[k];
    y[i] = s;
  }
  return y;
}

/** The sub-matrix A[rows, cols] of an n x n matrix, row-major. */
export function subMatrix(a: Float64Array, n: number, rows: readonly number[], cols: readonly number[]): Float64Array {
  const out = new Float64Array(rows.length * cols.length);
  rows.forEach((r, i) => cols.forEach((c, j) => (out[i * cols.length + j] = a[r * n + c])));
  return out;
}
