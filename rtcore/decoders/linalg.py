"""Small dense matrix kernels for the compiled decoders (Kalman filter, CLDA): no allocation,
results written into caller-given arrays."""
from numba import njit


@njit(cache=True, nogil=True)
def inv_small(a, out, work):
    """out = a^-1 for a small square matrix (Gauss-Jordan, partial pivoting); False if singular."""
    m = a.shape[0]
    for r in range(m):
        for c in range(m):
            work[r, c] = a[r, c]
            out[r, c] = 1.0 if r == c else 0.0
    for c in range(m):
        p = c
        for r in range(c + 1, m):
            if abs(work[r, c]) > abs(work[p, c]):
                p = r
        if abs(work[p, c]) < 1e-300:
            return False
        if p != c:
            for k in range(m):
                work[c, k], work[p, k] = work[p, k], work[c, k]
                out[c, k], out[p, k] = out[p, k], out[c, k]
        piv = 1.0 / work[c, c]
        for k in range(m):
            work[c, k] *= piv
            out[c, k] *= piv
        for r in range(m):
            if r != c:
                g = work[r, c]
                if g != 0.0:
                    for k in range(m):
                        work[r, k] -= g * work[c, k]
                        out[r, k] -= g * out[c, k]
    return True


@njit(cache=True, nogil=True)
def matmul(a, b, out):
    """out = a b (out must not alias a or b)."""
    for r in range(a.shape[0]):
        for c in range(b.shape[1]):
            acc = 0.0
            for k in range(a.shape[1]):
                acc += a[r, k] * b[k, c]
            out[r, c] = acc
