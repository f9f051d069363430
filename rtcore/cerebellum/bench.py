"""Forward-model budget for `rtcore bench`: per-tick cost of the compiled cerebellar stages.

The issue's case: a 2-DOF arm (state [x, y, vx, vy], command [fx, fy]) with 50 basis filters per
mossy input (2 commands + 4 state channels: 301 granule features), 100 ms feedback delay, NLMS
learning with the eligibility trace (target < 10 us per tick). Also: RLS on the same bank (one
P of 301 x 301, O(n_f^2) per tick), NLMS with 20 bases, the feedback delay line and the endpoint
PD controller, and the learned feedforward (inverse model) with 50 bases per input channel
(desired velocity [2]: 100 features) with either teacher, the dearer one's cost added to the
50-basis forward model's for the issue's budget (feedforward + forward model < 10 us per tick).
Inputs are random each tick so learning stays active.
"""
import time

import numpy as np
from numba import njit

from rtcore.bus import Bus
from rtcore.cerebellum import feedback_delay, feedforward, forward_model
from rtcore.control import endpoint_pd
from rtcore.dispatch import stage_step
from rtcore.learning.lesions import LesionEffects
from rtcore.stage import BuildContext


@njit(cache=True, nogil=True)
def _run(kind, f, s, i, bus, inputs, n, off):
    """n ticks of the stage of kind `kind` (rtcore.dispatch, as the session loop calls it), each after
    the next row of `inputs` is copied to bus[off:]."""
    for k in range(n):
        row = inputs[k % inputs.shape[0]]
        for j in range(row.size):
            bus[off + j] = row[j]
        stage_step(kind, f, s, i, bus)


def _per_tick_us(stage_module, st, bus, inputs, off, n):
    """Best of 3 runs of n ticks of `st`, a built stage of `stage_module`, in us per tick."""
    args = (stage_module.SPEC.kind, st.f, st.s, st.i, bus, inputs)
    _run(*args, 10, off)  # compile / warm up
    best = np.inf
    for _ in range(3):
        t = time.perf_counter()
        _run(*args, n, off)
        best = min(best, (time.perf_counter() - t) / n)
    return best * 1e6


def _arm_bus(second: str = "state"):
    """A bus whose first signals are command [2] and `second` [4] (state or feedback), adjacent."""
    ctx = BuildContext(bus=Bus(), dt_s=0.001, seed=0)
    ctx.bus.add("command", 2, "N", ("fx", "fy"))
    ctx.bus.add(second, 4, "m,m/s", ("hand_x", "hand_y", "hand_vx", "hand_vy"))
    return ctx


def _off(ctx):
    return ctx.bus.signals["command"].offset


def _inputs(width):
    return np.random.default_rng(0).standard_normal((4096, width)) * 0.1


def bench_forward_model(n: int = 20000) -> dict:
    """Per-tick costs in microseconds (best of 3 runs)."""
    out = {}
    for label, n_basis, rule in (("forward_model_50basis_nlms", 50, "nlms"), ("forward_model_20basis_nlms", 20, "nlms"),
                                 ("forward_model_50basis_rls", 50, "rls")):
        ctx = _arm_bus("feedback")  # random command and (already delayed) feedback each tick
        cfg = forward_model.ForwardModelConfig(n_basis=n_basis, rule=rule, nominal={"kind": "point_mass", "mass_kg": 1.5})
        st = forward_model.build(cfg, ctx, np.full(4, 100))  # 100 ms delay on every channel
        bus = ctx.bus.array()
        reps = max(n // (20 if rule == "rls" else 1), 500)
        out[f"{label}_tick_us"] = _per_tick_us(forward_model, st, bus, _inputs(6), _off(ctx), reps)
        if label == "forward_model_50basis_nlms":
            out["forward_model_features"] = float(st.info["n_features"])
    ctx = _arm_bus()
    fb = feedback_delay.build(feedback_delay.FeedbackConfig(), ctx, write_estimate=True)
    out["feedback_delay_4ch_tick_us"] = _per_tick_us(feedback_delay, fb, ctx.bus.array(), _inputs(6), _off(ctx), n)
    ctx.bus.add("target", 2, "m")
    pd = endpoint_pd.build(endpoint_pd.EndpointPDConfig(kind="endpoint_pd"), ctx, LesionEffects())
    out["endpoint_pd_tick_us"] = _per_tick_us(endpoint_pd, pd, ctx.bus.array(), _inputs(6), _off(ctx), n)
    out["feedforward_50basis_tick_us"] = _feedforward_us(n, "force_residual")
    out["feedforward_50basis_feedback_error_tick_us"] = _feedforward_us(n, "feedback_error")
    out["forward_model_plus_feedforward_50basis_tick_us"] = (out["forward_model_50basis_nlms_tick_us"]
                                                              + max(out["feedforward_50basis_tick_us"],
                                                                    out["feedforward_50basis_feedback_error_tick_us"]))
    return out


def _feedforward_us(n: int, teacher: str) -> float:
    """The feedforward stage, 50 bases per channel, learning every tick from `teacher` (random path,
    hand, command; the force residual's point mass 1.5 kg)."""
    ctx = BuildContext(bus=Bus(), dt_s=0.001, seed=0)
    for name, width, unit in (("command", 2, "N"), ("estimate", 4, "m,m/s"), ("feedback", 4, "m,m/s"),
                              ("target", 2, "m"), ("visuomotor", 4, "rad,1,m")):
        ctx.bus.add(name, width, unit)  # adjacent: one random input row fills them all
    cfg = feedforward.FeedforwardConfig(n_basis=50, teacher=teacher, nominal={"kind": "point_mass", "mass_kg": 1.5})
    st = feedforward.build(cfg, ctx, np.full(4, 50))
    return _per_tick_us(feedforward, st, ctx.bus.array(), _inputs(16), _off(ctx), n)


if __name__ == "__main__":
    for k, v in bench_forward_model().items():
        print(f"{k:36s} {v:8.2f}")
