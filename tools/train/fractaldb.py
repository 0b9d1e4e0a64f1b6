#!/usr/bin/env python3
"""A FractalDB-style formula-driven data set: categories of iterated-function-system fractals, grey 28×28, seeded.

After Kataoka et al., "Pre-training without Natural Images" (ACCV 2020), written from the paper's description:
- A category is an IFS {w_j(x) = A_j x + b_j, j = 1..N} in the plane with N drawn from 2..8 and the six parameters of
  every map uniform in [-1, 1]; map j is picked with probability p_j ∝ |det A_j| (the paper's rule). Here every A_j
  must also be a contraction (largest singular value < 1), so the attractor is bounded; the paper instead rejected
  systems whose rendering was degenerate. A category is kept only if its attractor's filling rate (share of the 28×28
  grid its points touch) is at least `min_fill` (the paper: 0.2 on its renderings), so near-points and near-lines go.
- Instances of a category (the paper's intra-category augmentation) multiply the parameters of one map by a factor
  from {0.8, 0.9, 1.1, 1.2} (one shared factor, the paper's "weight" per parameter set) — a different fractal of
  the same family — and render it with a random flip and rotation by a multiple of 90°, as its renderer did.
- Rendering: the chaos game (`points` iterations from the origin, the first 100 discarded), the points scaled into the
  image by the attractor's bounding box (keeping its aspect), accumulated as a density and written as grey levels
  255·(count / max)^0.5 on black, so the 28×28 images look like Fashion-MNIST's (bright object, black ground).

Nothing here shares anything with the OOD sets (MNIST, notMNIST, CIFAR-10, noise): pure formulas.

    python3 tools/train/fractaldb.py --categories 16 --per-category 8 --grid /tmp/fractals.pgm   # a preview grid
"""

import argparse
import time

import numpy as np

SIZE = 28


def _contraction(rng):
    """One affine map (A 2×2, b 2) with every parameter uniform in [-1, 1] and A a contraction."""
    while True:
        p = rng.uniform(-1.0, 1.0, size=6)
        A = p[:4].reshape(2, 2)
        if np.linalg.norm(A, 2) < 1.0 and abs(np.linalg.det(A)) > 1e-3:
            return p


def _probabilities(params):
    """params (..., N, 6) → p (..., N) ∝ |det A_j|."""
    det = np.abs(params[..., 0] * params[..., 3] - params[..., 1] * params[..., 2])
    return det / det.sum(axis=-1, keepdims=True)


def chaos_game(params, points, rng, burn=100):
    """params (K, N, 6) → point clouds (K, points, 2) of K systems at once (vectorised over K)."""
    K, N, _ = params.shape
    cum = np.cumsum(_probabilities(params), axis=1)  # (K, N)
    cum[:, -1] = 1.0
    x = np.zeros((K, 2))
    out = np.empty((K, points, 2))
    u = rng.random((points + burn, K))
    rows = np.arange(K)
    for t in range(points + burn):
        j = (u[t][:, None] > cum).sum(axis=1)  # (K,) map index per system
        p = params[rows, j]  # (K, 6)
        x = np.stack([p[:, 0] * x[:, 0] + p[:, 1] * x[:, 1] + p[:, 4],
                      p[:, 2] * x[:, 0] + p[:, 3] * x[:, 1] + p[:, 5]], axis=1)
        if t >= burn:
            out[:, t - burn] = x
    return out


def render(clouds, size=SIZE, margin=2):
    """Point clouds (K, P, 2) → uint8 images (K, size, size): density, bounding box fitted inside a margin."""
    K = clouds.shape[0]
    imgs = np.zeros((K, size, size), dtype=np.float64)
    lo = clouds.min(axis=1, keepdims=True)
    hi = clouds.max(axis=1, keepdims=True)
    span = np.maximum((hi - lo).max(axis=2, keepdims=True), 1e-9)  # keep the aspect ratio
    centre = (lo + hi) / 2
    inner = size - 2 * margin
    xy = ((clouds - centre) / span * (inner - 1) + (size - 1) / 2).round().astype(np.int64)
    xy = np.clip(xy, 0, size - 1)
    for k in range(K):
        np.add.at(imgs[k], (xy[k, :, 1], xy[k, :, 0]), 1.0)
    m = imgs.reshape(K, -1).max(axis=1)[:, None, None]
    return (255.0 * np.sqrt(imgs / np.maximum(m, 1.0))).round().astype(np.uint8)


def filling_rate(img):
    return float((img > 0).mean())


def make_categories(n, rng, min_fill=0.2, points=3000):
    """n IFS categories (list of (N, 6) arrays) whose renderings fill at least min_fill of the grid."""
    cats = []
    tried = 0
    while len(cats) < n:
        tried += 1
        N = int(rng.integers(2, 9))
        params = np.stack([_contraction(rng) for _ in range(N)])
        img = render(chaos_game(params[None], points, rng))[0]
        if filling_rate(img) >= min_fill:
            cats.append(params)
        if tried > 200 * n + 1000:
            raise RuntimeError(f'only {len(cats)} of {n} categories reached filling rate {min_fill} in {tried} tries')
    return cats, tried


FACTORS = np.array([0.8, 0.9, 1.1, 1.2])


def make_dataset(categories, per_category, seed=0, min_fill=0.2, points=1200):
    """→ images uint8 (categories·per_category, 28, 28), labels int64, and generation stats. Seeded, deterministic."""
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    cats, tried = make_categories(categories, rng, min_fill=min_fill)
    xs, ys = [], []
    for c, params in enumerate(cats):
        K, N = per_category, params.shape[0]
        inst = np.repeat(params[None], K, axis=0).copy()  # (K, N, 6)
        # instance 0 is the category itself; the others scale one map's parameters by a factor
        which = rng.integers(0, N, size=K)
        factor = FACTORS[rng.integers(0, len(FACTORS), size=K)]
        factor[0] = 1.0
        inst[np.arange(K), which] *= factor[:, None]
        img = render(chaos_game(inst, points, rng))
        rot = rng.integers(0, 4, size=K)
        flip = rng.random(K) < 0.5
        for k in range(K):
            im = np.rot90(img[k], rot[k])
            xs.append(np.fliplr(im) if flip[k] else im)
        ys.extend([c] * K)
    x = np.ascontiguousarray(np.stack(xs))
    y = np.asarray(ys, dtype=np.int64)
    stats = {'categories': categories, 'per_category': per_category, 'seed': seed, 'min_fill': min_fill,
             'points': points, 'systems_tried': tried, 'seconds': round(time.perf_counter() - t0, 2),
             'mean_fill': float((x > 0).mean())}
    return x, y, stats


def write_pgm(path, images, cols):
    """A grid of uint8 images as one binary PGM (viewable anywhere, no image library needed)."""
    n, h, w = images.shape
    rows = (n + cols - 1) // cols
    grid = np.zeros((rows * (h + 1), cols * (w + 1)), dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        grid[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = images[i]
    with open(path, 'wb') as f:
        f.write(f'P5 {grid.shape[1]} {grid.shape[0]} 255\n'.encode())
        f.write(grid.tobytes())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--categories', type=int, default=16)
    p.add_argument('--per-category', type=int, default=8)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--grid', help='write the images as one PGM grid (a category per row)')
    a = p.parse_args(argv)
    x, y, stats = make_dataset(a.categories, a.per_category, a.seed)
    print(stats)
    if a.grid:
        write_pgm(a.grid, x, a.per_category)
        print(f'wrote {a.grid}')


if __name__ == '__main__':
    main()
