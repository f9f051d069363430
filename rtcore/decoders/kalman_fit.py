"""Fit, save and load velocity Kalman filter decoders (off the hot path).

Calibration (Wu et al. 2006, Neural Comput 18:80, least squares): from an observation block,
binned counts Y [T, n] and cursor velocities V [T, 2] (m/s; the user watches an automatic cursor
reach the targets),
    H[:, vx vy 1] = S R^-1,  R = Z^T Z, S = Y^T Z, Z = [V, 1]      (position columns 0: known)
    Q = diag(T - H S^T) / N, T = sum_t y_t^2                         (diagonal, see kalman.py)
    A_v = argmin |V[1:] - V[:-1] A_v^T|^2,  W_v = cov(residuals)     (velocity block)
and the position rows integrate velocity: p_t = p_{t-1} + bin_s v_{t-1}. R, S, T and N are kept
as the sufficient statistics that seed RML (Dangi et al. 2014).
"""
import time
from dataclasses import dataclass, field

import numpy as np

from rtcore.decoders import persistence

D = 5  #: state size: px, py, vx, vy, offset
Z = 3  #: fitted columns of H: vx, vy, offset (state indices 2, 3, 4)
Q_FLOOR = 1e-3  #: smallest unit noise variance, counts^2 per bin (keeps Q^-1 finite for silent units)
KIND = "kalman_decoder"
MIN_BINS = 50  #: fewest bins a fit accepts


@dataclass
class KalmanModel:
    """A velocity KF decoder: A, W [5, 5]; H [n, 5] (counts per bin per unit state); q [n] (counts^2);
    sufficient statistics R [3, 3], S [n, 3], T [n], ess (bins); bin_s (s)."""

    A: np.ndarray
    W: np.ndarray
    H: np.ndarray
    q: np.ndarray
    R: np.ndarray
    S: np.ndarray
    T: np.ndarray
    ess: float
    bin_s: float
    meta: dict = field(default_factory=dict)

    @property
    def n_units(self) -> int:
        return self.H.shape[0]


def _state_matrices(A_v: np.ndarray, W_v: np.ndarray, bin_s: float) -> tuple[np.ndarray, np.ndarray]:
    A = np.eye(D)
    A[0, 2] = A[1, 3] = bin_s
    A[2:4, 2:4] = A_v
    W = np.zeros((D, D))
    W[2:4, 2:4] = W_v
    return A, W


def fit_kalman(velocity, counts, bin_s: float, settings: dict | None = None) -> KalmanModel:
    """Least-squares KF from an observation block: velocity [T, 2] m/s, counts [T, n] per bin.

    One-line ValueError for too few bins, non-finite data, or no movement in the block."""
    V = np.asarray(velocity, dtype=np.float64)
    Y = np.asarray(counts, dtype=np.float64)
    if V.ndim != 2 or V.shape[1] != 2 or Y.ndim != 2 or Y.shape[0] != V.shape[0]:
        raise ValueError(f"kalman fit: need velocity [T, 2] and counts [T, n] with the same T, "
                         f"got {V.shape} and {Y.shape}")
    if V.shape[0] < MIN_BINS:
        raise ValueError(f"kalman fit: too few bins: {V.shape[0]} ({V.shape[0] * bin_s:.1f} s), "
                         f"need at least {MIN_BINS}; record a longer observation block")
    if not (np.all(np.isfinite(V)) and np.all(np.isfinite(Y))):
        raise ValueError("kalman fit: the observation block has NaN/Inf values; check the recording")
    Zm = np.column_stack([V, np.ones(len(V))])
    R = Zm.T @ Zm
    if np.linalg.cond(R) > 1e12:
        raise ValueError("kalman fit: the cursor barely moved in the observation block; "
                         "run the automatic reaches to all targets")
    S = Y.T @ Zm
    T = (Y * Y).sum(axis=0)
    Hz = np.linalg.solve(R, S.T).T
    q = np.maximum((T - (Hz * S).sum(axis=1)) / len(Y), Q_FLOOR)
    A_v = np.linalg.lstsq(V[:-1], V[1:], rcond=None)[0].T
    resid = V[1:] - V[:-1] @ A_v.T
    W_v = resid.T @ resid / max(len(resid) - 1, 1)
    A, W = _state_matrices(A_v, W_v, bin_s)
    H = np.zeros((Y.shape[1], D))
    H[:, 2:] = Hz
    meta = {"fit_time": time.strftime("%Y-%m-%dT%H:%M:%S"), "n_bins": int(len(Y)), "source": "observation block",
            "settings": settings or {}}
    return KalmanModel(A, W, H, q, R, S, T, float(len(Y)), float(bin_s), meta)


def random_decoder(n_units: int, bin_s: float, seed: int, baseline_hz: float = 10.0,
                   depth_per_m_s: float = 50.0, prior_bins: float = 20.0) -> KalmanModel:
    """A deliberately poor seed decoder (random preferred directions), as CLDA starts from.

    H[:, v] ~ N(0, (depth_per_m_s bin_s)^2), H[:, 1] = baseline_hz bin_s, q = the Poisson variance;
    A_v = 0.8 I, W_v = (0.05 m/s)^2 I. Its sufficient statistics are those of prior_bins of data
    with velocity variance (0.1 m/s)^2, so RML soon forgets them."""
    g = np.random.default_rng([int(seed), 0x6B66])
    H = np.zeros((n_units, D))
    H[:, 2:4] = g.standard_normal((n_units, 2)) * depth_per_m_s * bin_s
    H[:, 4] = baseline_hz * bin_s
    q = np.full(n_units, baseline_hz * bin_s)
    A, W = _state_matrices(0.8 * np.eye(2), 0.05 ** 2 * np.eye(2), bin_s)
    R = prior_bins * np.diag([0.1 ** 2, 0.1 ** 2, 1.0])
    Hz = H[:, 2:]
    S = Hz @ R
    T = (Hz @ R * Hz).sum(axis=1) + prior_bins * q
    return KalmanModel(A, W, H, q, R, S, T, prior_bins, float(bin_s),
                       {"fit_time": time.strftime("%Y-%m-%dT%H:%M:%S"), "source": f"random seed {seed}"})


def save_kalman(path, model: KalmanModel, settings: dict | None = None) -> str:
    """Write the decoder (.npz) and its metadata (.json: units, bin, fit time, config hash)."""
    settings = settings or model.meta.get("settings", {})
    meta = dict(model.meta, bin_s=model.bin_s, n_units=model.n_units, settings=settings,
                config_hash=persistence.config_hash(dict(settings, bin_s=model.bin_s, n_units=model.n_units)),
                units={"A": "1 (per bin)", "W": "(m/s)^2", "H": "counts per bin per (m/s); offset column: counts",
                       "q": "counts^2", "state": "[px m, py m, vx m/s, vy m/s, 1]"})
    arrays = {"A": model.A, "W": model.W, "H": model.H, "q": model.q, "R": model.R, "S": model.S,
              "T": model.T, "ess": np.array(model.ess), "bin_s": np.array(model.bin_s)}
    return str(persistence.save(path, KIND, arrays, meta))


def load_kalman(path, where: str = "decoder.decoder_file") -> KalmanModel:
    """A decoder from .npz (+ .json); errors name the key, the file and the fix."""
    a, meta = persistence.load(path, KIND, ("A", "W", "H", "q", "R", "S", "T", "ess", "bin_s"), where)
    n = a["H"].shape[0]
    want = {"A": (D, D), "W": (D, D), "H": (n, D), "q": (n,), "R": (Z, Z), "S": (n, Z), "T": (n,)}
    for k, shape in want.items():
        if a[k].shape != shape:
            raise ValueError(f"{where}: '{path}': array {k} has shape {a[k].shape}, expected {shape}; refit the decoder")
    return KalmanModel(a["A"], a["W"], a["H"], a["q"], a["R"], a["S"], a["T"], float(a["ess"]),
                       float(a["bin_s"]), meta)
