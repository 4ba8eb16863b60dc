"""Compiled (numba) KSG statistics for one-dimensional X and Y: the ``sweep`` engine.

For 1-D marginals the joint space is the plane, and a dedicated search beats a general KD-tree:

* **Joint k-NN (max-norm).** Points sorted by x are cut into vertical strips of equal count
  S ≈ √(k·N) (so a strip is about two k-NN radii wide wherever the data are), and each strip is
  sorted by y. A query scans its own strip outwards from its y-position (binary search), closest
  y first, and stops once |Δy| exceeds its current k-th distance; then the neighbouring strips in
  order of their x-gap, stopping once a gap exceeds the k-th distance. Points outside the scanned
  bands are at least that far away, so the k-th distance is exact.
* **Marginal counts.** #{j ≠ i : |v_j − v_i| < r_i} (or ≤) on the sorted marginal by two binary
  searches *on the predicate itself*: fl(|s_j − v_i|) is monotone in s_j on either side of v_i, so
  the run where it holds is found exactly as evaluated in floating point (what ``count_1d`` does
  with ``searchsorted`` and fix-ups).

Distances are the same float64 expressions as in the other engines (max of |a − b|), so the counts
and values are identical to theirs (tested). Rows are processed in blocks; the kernels release the
GIL, so the blocks run on a thread pool. numba compiles on first use and caches to disk.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["strip_size", "build_strips", "knn_rows", "count_sorted_rows"]


def strip_size(n: int, kmax: int) -> int:
    """Points per strip: ≈ √(k·N), about two k-NN radii of uniform data in the unit square."""
    return max(kmax + 1, min(n, int(np.ceil(np.sqrt(kmax * n)))))


@nb.njit(cache=True, nogil=True)
def build_strips(xs, ys, size):
    """Within each strip of ``size`` consecutive x-sorted points: order by y.

    Returns (sy, sx, sj): y, x and x-sorted position of the points in strip-then-y order."""
    n = xs.size
    sy = np.empty(n)
    sx = np.empty(n)
    sj = np.empty(n, dtype=np.int64)
    for start in range(0, n, size):
        stop = min(start + size, n)
        order = np.argsort(ys[start:stop]) + start
        for q in range(start, stop):
            j = order[q - start]
            sy[q] = ys[j]
            sx[q] = xs[j]
            sj[q] = j
    return sy, sx, sj


@nb.njit(inline="always")
def _insert(best_d, best_j, d, j):
    """Insert (d, j) into the ascending list, dropping its last entry (caller checked d < last)."""
    p = best_d.size - 1
    while p > 0 and best_d[p - 1] > d:
        best_d[p] = best_d[p - 1]
        best_j[p] = best_j[p - 1]
        p -= 1
    best_d[p] = d
    best_j[p] = j


@nb.njit(inline="always")
def _locate(sy, start, stop, yi):
    """First position in start..stop (sorted by y) with sy ≥ yi."""
    lo, hi = start, stop
    while lo < hi:
        mid = (lo + hi) >> 1
        if sy[mid] < yi:
            lo = mid + 1
        else:
            hi = mid
    return lo


@nb.njit(inline="always")
def _scan_strip(i, xi, yi, sy, sx, sj, start, stop, dn, up, best_d, best_j):
    """Offer the points of one strip to row i's list, closest in y first (from positions dn
    downwards and up upwards), while |Δy| ≤ the current k-th distance."""
    last = best_d.size - 1
    while dn >= start or up < stop:
        ddn = yi - sy[dn] if dn >= start else np.inf
        dup = sy[up] - yi if up < stop else np.inf
        if ddn <= dup:
            dy, q = ddn, dn
            dn -= 1
        else:
            dy, q = dup, up
            up += 1
        if dy > best_d[last]:
            break
        j = sj[q]
        if j == i:
            continue
        d = max(abs(sx[q] - xi), abs(sy[q] - yi))
        if d < best_d[last]:
            _insert(best_d, best_j, d, j)


@nb.njit(cache=True, nogil=True)
def knn_rows(xs, ys, sy, sx, sj, size, kmax, start, stop, out_d, out_j):
    """k-NN (max-norm, self excluded) of the points at strip positions start..stop: distances
    and x-sorted positions, written to the rows of out_d and out_j given by those positions.

    Queries go in strip-then-y order, so consecutive ones search nearby parts of each strip."""
    n = xs.size
    nstrips = (n + size - 1) // size
    best_d = np.empty(kmax)
    best_j = np.empty(kmax, dtype=np.int64)
    for q in range(start, stop):
        i = sj[q]
        best_d[:] = np.inf
        best_j[:] = -1
        xi, yi = xs[i], ys[i]
        own = i // size
        first, end = own * size, min(own * size + size, n)
        _scan_strip(i, xi, yi, sy, sx, sj, first, end, q - 1, q + 1, best_d, best_j)
        left, right = own - 1, own + 1
        while left >= 0 or right < nstrips:
            # x-gap to the nearest point of the next strip on each side
            gl = xi - xs[left * size + size - 1] if left >= 0 else np.inf
            gr = xs[right * size] - xi if right < nstrips else np.inf
            if gl <= gr:
                if gl > best_d[kmax - 1]:
                    break
                s = left
                left -= 1
            else:
                if gr > best_d[kmax - 1]:
                    break
                s = right
                right += 1
            first, end = s * size, min(s * size + size, n)
            at = _locate(sy, first, end, yi)
            _scan_strip(i, xi, yi, sy, sx, sj, first, end, at - 1, at, best_d, best_j)
        out_d[i] = best_d
        out_j[i] = best_j


@nb.njit(inline="always")
def _inside(s, j, v, r, strict):
    d = abs(s[j] - v)
    return d < r if strict else d <= r


@nb.njit(inline="always")
def _run_end(s, p, v, r, strict, way):
    """The position furthest from p in direction ``way`` (±1) up to which the predicate holds
    (it holds at p): gallop with steps 1, 2, 4, … until it fails, then bisect."""
    good, bad, step = p, s.size if way > 0 else -1, 1
    while 0 <= p + way * step < s.size:
        if not _inside(s, p + way * step, v, r, strict):
            bad = p + way * step
            break
        good = p + way * step
        step *= 2
    while abs(bad - good) > 1:
        mid = (good + bad) >> 1
        if _inside(s, mid, v, r, strict):
            good = mid
        else:
            bad = mid
    return good


@nb.njit(cache=True, nogil=True)
def count_sorted_rows(s, r, strict, start, stop, out):
    """out[p] = #{j ≠ p : |s_j − s_p| < r_p} (``strict``) or ≤ r_p, for sorted positions p in
    start..stop (``s`` sorted, ``r`` in the same order).

    The predicate holds on one contiguous run around p; both ends are found on the predicate as
    evaluated in floats (see :func:`_run_end`)."""
    for p in range(start, stop):
        if strict and not r[p] > 0:  # nothing is strictly closer than 0, not even the point itself
            out[p] = 0
        else:  # the run's length minus the point itself
            out[p] = (_run_end(s, p, s[p], r[p], strict, 1)
                      - _run_end(s, p, s[p], r[p], strict, -1))
