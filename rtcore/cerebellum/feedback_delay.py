"""Feedback delay line (role "feedback"): the sensed state reaches the controller only through it.

feedback_j[k] = observed_j[k - D_j - extra[k]], per state channel j, D_j = round(delay_j_s / dt_s).
Defaults: proprioceptive 50 ms, visual 100 ms (0-300 ms allowed): conduction and processing
delays of the two senses (Miall, Weir, Wolpert & Stein 1993, J Mot Behav 25:203; Franklin &
Wolpert 2011, Neuron 72:425). Reads bus `observed` if a task stage writes it, else `state`;
adds `extra_delay_ticks` [1] per tick if the task registered it (delay-adaptation paradigms),
clipped to max_delay_s. Writes `feedback` [n_x], and also `estimate` when no forward model
follows (the controller then acts on delayed feedback). The ring is pre-filled with the first
sample; a non-finite sample is replaced by the previous one (status BAD_SAMPLE).
"""
import numpy as np
from numba import njit
from pydantic import Field, field_validator

from rtcore import status
from rtcore.configbase import Strict
from rtcore.layout import stage_layout
from rtcore.registry import StageSpec
from rtcore.stage import Stage

MAX_DELAY_S = 0.3  #: longest sensory delay the line accepts, s


class FeedbackConfig(Strict):
    """[feedback]: per-channel sensory delay of the plant's state."""

    input: str | None = Field(None, description="bus signal delayed (default: 'observed' if a task writes it, else 'state')")
    group_delay_s: dict[str, float] = Field({"proprioceptive": 0.05, "visual": 0.10}, description="delay of each named sensory group, s")
    default_group: str = Field("proprioceptive", description="group of the channels not listed in channel_group")
    channel_group: dict[str, str] = Field({}, description="state channel label -> group name (e.g. hand_x = 'visual')")
    delay_s: list[float] | float | None = Field(None, description="delay per state channel (or one for all), s; overrides the groups")
    max_delay_s: float = Field(MAX_DELAY_S, gt=0, le=MAX_DELAY_S, description="ring length: longest total delay incl. extra_delay_ticks, s")
    extra_delay: str = Field("extra_delay_ticks", description="bus signal [1] of extra delay ticks added per tick, read if registered")

    @field_validator("group_delay_s")
    @classmethod
    def _groups_in_range(cls, v):
        for name, d in v.items():
            if not 0.0 <= d <= MAX_DELAY_S:
                raise ValueError(f"group '{name}' delay {d} s is outside 0..{MAX_DELAY_S} s")
        return v

    @field_validator("delay_s")
    @classmethod
    def _delays_in_range(cls, v):
        for d in ([v] if isinstance(v, float) else (v or [])):
            if not 0.0 <= d <= MAX_DELAY_S:
                raise ValueError(f"delay {d} s is outside 0..{MAX_DELAY_S} s")
        return v


#: s: the ring of past samples [ring, n]. i: bus offsets (estimate, extra: -1 when not written/read),
#: the ring length, the tick count and the base delay of each channel, ticks.
LAYOUT = stage_layout("feedback_delay", s="ring_x[ring,n]",
                      i="input n output est extra ring count=0 delays[n]")
I, AT = LAYOUT.I, LAYOUT.AT


@njit(cache=True, nogil=True)
def feedback_delay_step(f, s, i, bus):
    """feedback_j = ring[k - D_j - extra]_j (LAYOUT: s = the ring, i = offsets and delays)."""
    in_off, n, out_off, est_off, extra_off, R = i[I.input], i[I.n], i[I.output], i[I.est], i[I.extra], i[I.ring]
    k = i[I.count]
    ring, delays = AT.s_ring_x, AT.i_delays
    row = ring + (k % R) * n
    code = status.OK
    if k == 0:
        for r in range(R):
            for j in range(n):
                s[ring + r * n + j] = bus[in_off + j]
    prev = ring + ((k - 1) % R) * n
    for j in range(n):
        v = bus[in_off + j]
        if not np.isfinite(v):
            v = s[prev + j] if k > 0 else 0.0
            code = status.BAD_SAMPLE
        s[row + j] = v
    extra = 0
    if extra_off >= 0:
        xv = bus[extra_off]
        if xv > 0.0 and np.isfinite(xv):
            extra = int(xv + 0.5)
    for j in range(n):
        d = i[delays + j] + extra
        if d > R - 1:
            d = R - 1
        v = s[ring + ((k - d) % R) * n + j]
        bus[out_off + j] = v
        if est_off >= 0:
            bus[est_off + j] = v
    i[I.count] = k + 1
    return code


def channel_delays_s(cfg: FeedbackConfig, labels: tuple, where: str) -> np.ndarray:
    """Delay per state channel, s, from delay_s or the channel groups."""
    n = len(labels)
    if cfg.delay_s is not None:
        d = np.full(n, cfg.delay_s) if isinstance(cfg.delay_s, float) else np.asarray(cfg.delay_s, dtype=float)
        if d.shape != (n,):
            raise ValueError(f"{where}.delay_s: {d.size} delays for {n} state channels ({', '.join(labels)})")
        return d
    for lab, grp in cfg.channel_group.items():
        if lab not in labels:
            raise ValueError(f"{where}.channel_group: no state channel '{lab}'; channels: {', '.join(labels)}")
        if grp not in cfg.group_delay_s:
            raise ValueError(f"{where}.channel_group.{lab}: unknown group '{grp}'; groups: {', '.join(cfg.group_delay_s)}")
    if cfg.default_group not in cfg.group_delay_s:
        raise ValueError(f"{where}.default_group: unknown group '{cfg.default_group}'; groups: {', '.join(cfg.group_delay_s)}")
    return np.array([cfg.group_delay_s[cfg.channel_group.get(lab, cfg.default_group)] for lab in labels])


def build(cfg: FeedbackConfig, ctx, write_estimate: bool, where: str = "feedback") -> Stage:
    """The delay line on `observed`/`state`; registers `feedback` (and `estimate` if asked)."""
    name = cfg.input or ("observed" if ctx.bus.has("observed") else "state")
    x = ctx.bus.get(name, who=where)
    delays_s = channel_delays_s(cfg, x.labels, where)
    if np.any(delays_s > cfg.max_delay_s):
        raise ValueError(f"{where}: a channel delay exceeds max_delay_s = {cfg.max_delay_s} s; raise max_delay_s (<= {MAX_DELAY_S})")
    ticks = np.rint(delays_s / ctx.dt_s).astype(np.int64)
    R = int(round(cfg.max_delay_s / ctx.dt_s)) + 1
    out = ctx.bus.derive("feedback", x, [f"feedback_{lab}" for lab in x.labels])
    est = ctx.bus.derive("estimate", x, [f"estimate_{lab}" for lab in x.labels]) if write_estimate else None
    extra = ctx.bus.get(cfg.extra_delay, 1, who=where) if ctx.bus.has(cfg.extra_delay) else None
    f, s, i = LAYOUT.fill(i=dict(input=x.offset, n=x.width, output=out.offset, est=est.offset if est else -1,
                                 extra=extra.offset if extra else -1, ring=R, delays=ticks))
    return Stage(where, SPEC.kind, f, s, i,
                 info={"input": name, "delay_s": [float(d) for d in delays_s], "extra_delay": extra is not None})


def base_delay_ticks(stage: Stage) -> np.ndarray:
    """The per-channel base delay of a built delay line, ticks (a copy; what a forward model assumes)."""
    return LAYOUT.view(stage, "delays").copy()


SPEC = StageSpec(kind=50, name="feedback_delay", step=feedback_delay_step, config=FeedbackConfig, build=build)
