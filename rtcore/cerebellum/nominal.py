"""Nominal plant models the cerebellar readout corrects: x[k+1] = Ad x[k] + Bd u[k] (+ Purkinje residual).

The forward model predicts the next state as a known nominal model plus a learned residual
(Dean, Porrill, Ekerot & Jornell 2010, Nat Rev Neurosci 11:30): the cerebellum learns only what
the nominal model gets wrong (a force field, an added mass). Models are given in continuous time,
dx/dt = A x + B u, and discretised once at build time with a zero-order hold,
[Ad Bd; 0 I] = expm([A B; 0 0] dt_s).

- "point_mass": x = [position (n), velocity (n)], u = force (n), A = [[0, I], [0, -c M^-1]],
  B = [[0], [M^-1]] with mass matrix M (kg): mass_kg I if set, else the plant's own nominal model
  ctx.plant.nominal.mass_matrix_kg (the arm's endpoint inertia Lambda = (J M_q^-1 J^T)^-1 at the
  start posture; Hogan 1985), else (a plant without one) 1.5 kg; viscous damping c (N*s/m). For the
  two-link arm the state is the hand [x, y, vx, vy] and the command the endpoint force [fx, fy].
- "linear": A (n_x, n_x) and B (n_x, n_u) from the config.
- "none": Ad = 0, Bd = 0: the prediction is the Purkinje output alone.
"""
from typing import Literal

import numpy as np
from pydantic import Field

from rtcore.configbase import Strict


class NominalConfig(Strict):
    """[forward_model.nominal]: the known part of the plant model."""

    kind: Literal["point_mass", "linear", "none"] = Field("point_mass", description="nominal model the readout corrects")
    mass_kg: float | None = Field(None, gt=0, le=1000, description="point_mass: isotropic mass, kg (default: the plant's endpoint mass matrix, else 1.5)")
    damping_ns_per_m: float = Field(0.0, ge=0, le=1e4, description="point_mass: viscous damping, N*s/m")
    A: list[list[float]] | None = Field(None, description="linear: continuous-time state matrix A (n_x rows of n_x), 1/s")
    B: list[list[float]] | None = Field(None, description="linear: continuous-time input matrix B (n_x rows of n_u), state units per command unit per s")


DEFAULT_MASS_KG = 1.5  #: effective hand mass of the Shadmehr & Mussa-Ivaldi 1994 arm near the workspace centre, kg


def continuous_matrices(cfg: NominalConfig, n_x: int, n_u: int, ctx, where: str):
    """(A (n_x, n_x), B (n_x, n_u)) in continuous time; errors name the config key and the fix.

    ctx: the BuildContext; its plant info is required only for point_mass without mass_kg."""
    if cfg.kind == "none":
        return None, None
    if cfg.kind == "point_mass":
        n = n_u
        if n_x != 2 * n:
            raise ValueError(f"{where}.nominal.kind = 'point_mass' needs state = [position ({n}), velocity ({n})] "
                             f"for a {n}-channel force command, but the state has {n_x} channels; use kind = 'linear' or 'none'")
        if cfg.mass_kg is not None:
            M = cfg.mass_kg * np.eye(n)
        else:
            nominal = ctx.require_plant(where, "nominal.kind = 'point_mass' takes its mass; or set nominal.mass_kg").nominal
            if nominal is None:
                M = DEFAULT_MASS_KG * np.eye(n)
            elif nominal.mass_matrix_kg.shape == (n, n):
                M = np.asarray(nominal.mass_matrix_kg, dtype=float)
            else:
                M = nominal.mass_kg * np.eye(n)
        M_inv = np.linalg.inv(M)
        A = np.zeros((n_x, n_x))
        A[:n, n:] = np.eye(n)
        A[n:, n:] = -cfg.damping_ns_per_m * M_inv
        B = np.zeros((n_x, n_u))
        B[n:, :] = M_inv
        return A, B
    if cfg.A is None or cfg.B is None:
        raise ValueError(f"{where}.nominal: kind = 'linear' needs A ({n_x}x{n_x}) and B ({n_x}x{n_u})")
    A, B = np.asarray(cfg.A, dtype=float), np.asarray(cfg.B, dtype=float)
    if A.shape != (n_x, n_x):
        raise ValueError(f"{where}.nominal.A: shape {A.shape}, expected ({n_x}, {n_x}) for a {n_x}-channel state")
    if B.shape != (n_x, n_u):
        raise ValueError(f"{where}.nominal.B: shape {B.shape}, expected ({n_x}, {n_u}) for {n_x} states and {n_u} commands")
    return A, B


def discretise(A, B, n_x: int, n_u: int, dt_s: float):
    """Zero-order-hold (Ad, Bd); zeros for kind 'none'."""
    if A is None:
        return np.zeros((n_x, n_x)), np.zeros((n_x, n_u))
    M = np.zeros((n_x + n_u, n_x + n_u))
    M[:n_x, :n_x], M[:n_x, n_x:] = A, B
    from scipy.linalg import expm  # here, not at import: scipy.linalg adds ~0.2 s to every process start
    E = expm(M * dt_s)
    return E[:n_x, :n_x].copy(), E[:n_x, n_x:].copy()


def roll_forward_matrix(Ad: np.ndarray, delay_ticks: np.ndarray, roll_forward: bool) -> np.ndarray:
    """Phi (n_x, n_x): carries each channel's delayed prediction error to now.

    Column j is column j of Ad^{D_j} (channel j measured D_j ticks ago), so
    estimate = prediction_now + Phi (feedback - prediction_stored_for_the_measured_moment);
    Phi = I is the classic Smith predictor (Smith 1957; Miall, Weir, Wolpert & Stein 1993).
    """
    n_x = Ad.shape[0]
    if not roll_forward:
        return np.eye(n_x)
    Phi = np.zeros((n_x, n_x))
    for j, d in enumerate(delay_ticks):
        Phi[:, j] = np.linalg.matrix_power(Ad, int(d))[:, j]
    return Phi
