"""Checkpoint cost in `rtcore bench`: write time and size, the loop's snapshot copy, and the deadline
misses of real-time sessions that checkpoint often against ones that do not (alternated, one run).
Numbers are reported, never asserted."""
import tempfile
import time

import numpy as np

from rtcore import checkpoint
from rtcore.miss_ratio import ratio_ci95

KF_UNITS = 192  #: the Kalman decoder of a large array (Utah arrays give 96-192 channels)


def _cost(pipe, cfg=None, repeats: int = 20) -> dict:
    """Median snapshot copy (us), .npz write (ms) and size (bytes) of a built pipeline's learned state."""
    from rtcore.loop import copy_snapshot
    table, _layout, n_f, n_i = checkpoint.plan(pipe)
    snap_f, snap_i = np.zeros(n_f), np.zeros(n_i, np.int64)
    copy_snapshot(pipe.chain.F, pipe.chain.S, pipe.chain.I, table, snap_f, snap_i)  # compiled before timing
    copy_us, write_ms = [], []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(repeats):
            t = time.perf_counter()
            copy_snapshot(pipe.chain.F, pipe.chain.S, pipe.chain.I, table, snap_f, snap_i)
            copy_us.append((time.perf_counter() - t) * 1e6)
            t = time.perf_counter()
            size = checkpoint.save(pipe, out, cfg)
            write_ms.append((time.perf_counter() - t) * 1e3)
    return {"learned_values": n_f + n_i, "snapshot_copy_us": round(float(np.median(copy_us)), 2),
            "write_ms": round(float(np.median(write_ms)), 3), "bytes": int(size)}


def _demo_chain() -> dict:
    from rtcore import config, pipeline
    from rtcore.config import TICK_CONFIG
    cfg = config.load(str(TICK_CONFIG), ["loop.realtime=false"])
    pipe = pipeline.build(cfg, str(TICK_CONFIG))
    try:
        return _cost(pipe, cfg)
    finally:
        pipe.close()


def _kalman_192() -> dict:
    from rtcore import api
    from rtcore.decoders import kalman, kalman_fit
    from rtcore.decoders.clda import CLDAConfig
    from sims.plants import cursor
    from sims.users import neural
    with tempfile.TemporaryDirectory() as tmp:
        path = kalman_fit.save_kalman(f"{tmp}/kf192", kalman_fit.random_decoder(KF_UNITS, 0.05, seed=1))
        ch = api.chain(dt_s=0.001, seed=0)
        ch.add(neural.build(neural.SyntheticNeuralConfig(kind="synthetic_neural", n_units=KF_UNITS), ch.ctx))
        ch.add(kalman.build(kalman.KalmanDecoderConfig(kind="kalman", decoder_file=path, clda=CLDAConfig(method="rml")),
                            ch.ctx))
        ch.add(cursor.build(cursor.CursorConfig(kind="cursor", velocity_signal="intent"), ch.ctx))
        ch.signal("target", 2, "m", ("x", "y"))
        with ch.finish() as sess:
            return _cost(sess.pipeline)


def misses(seconds: float, pairs: int) -> dict:
    """Deadline misses of the demo chain at 1 kHz in real time, checkpointing every 0.5 s vs never:
    `pairs` sessions of each, alternated (without, with, without, ...) so a machine that drifts
    loads both alike; per session and pooled, with the pooled ratio and its 95% interval.

    Misses are rare events, so the pooled ratio comes with its Poisson interval (rtcore.miss_ratio)."""
    from rtcore import config, supervisor
    from rtcore.config import TICK_CONFIG
    out = {label: {"deadline_misses": [], "ticks": 0, "compute_p99_us": [], "wake_p99_us": [], "checkpoint_writes": 0}
           for label in ("without", "with")}
    for _ in range(pairs):
        for label, sets in (("without", ["checkpoint.enabled=false"]), ("with", ["checkpoint.every_s=0.5"])):
            cfg = config.load(str(TICK_CONFIG), [f"session.duration_s={seconds}", "loop.realtime=true"] + sets)
            with tempfile.TemporaryDirectory() as d:
                s = supervisor.run(cfg, str(TICK_CONFIG), d, live=False).summary
            o = out[label]
            o["deadline_misses"].append(s["deadline_misses"])
            o["ticks"] += s["ticks"]
            o["compute_p99_us"].append(s["compute_us"]["p99"])
            o["wake_p99_us"].append(s["wake_latency_us"]["p99"])
            o["checkpoint_writes"] += (s.get("checkpoint") or {}).get("writes", 0)
    w, wo = out["with"], out["without"]
    out["misses_ratio"], out["misses_ratio_ci95"] = ratio_ci95(sum(w["deadline_misses"]), sum(wo["deadline_misses"]))
    out["compute_p99_ratio"] = round(float(np.median(w["compute_p99_us"]) / np.median(wo["compute_p99_us"])), 3)
    return out


def bench_checkpoint(seconds: float = 5.0, pairs: int = 3) -> dict:
    return {"demo_chain": _demo_chain(), f"kalman_{KF_UNITS}": _kalman_192(), "realtime_1khz": misses(seconds, pairs)}
