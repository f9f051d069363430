"""Learned feedforward (inverse model), role "feedforward": what the cerebellum learns acts on the arm.

Runs after the controller (or the decoder, in shared control) has written `command` u_fb and
before the plant: command <- u_fb + u_ff, so a user's decoded command or the engine's feedback
controller gets the learned compensation on top. The plant sees the sum; the forward model's
efference copy is the sum.

Per tick k (endpoint-force command [n], hand state [position n, velocity n]):
1. The desired path is the straight line from the reach origin to the target (bus `visuomotor`
   origin, `target`; reaches are straight, Morasso 1981; Flash & Hogan 1985), unit vector e_path.
2. Mossy inputs per configured input (each n channels, times input_scale):
   "desired_velocity" v_d = (v_hat . e_path) e_path (progress along the planned path; v_hat from
   `estimate`), "velocity" v_hat, "efference_copy" u_fb (the command before u_ff).
3. Granular layer: the same temporal basis bank as the forward model (granule_basis.py), phi[k].
4. u_ff = gain (W + W_slow) phi[k] (Purkinje readout, purkinje.py), plus K v_d when the
   trial-level learner writes its learned field K (`learned_field`, rtcore/learning/trial_learning.py),
   norm-clipped to max_force_n, written to `feedforward` and added to `command`.
5. Feedback-error learning (Kawato, Furukawa & Suzuki 1987, Biol Cybern 57:169; Kawato & Gomi
   1992, Trends Neurosci 15:445): the teaching signal is the motor error, the corrective force of
   a path-feedback controller on the delayed sensed hand (`feedback`):
       u_err = -(kp d_perp + kd v_perp) n_path
   with d_perp, v_perp the sensed deviation and lateral velocity off the path (n_path its left
   normal). It is the part of a target-tracking PD command that corrects deviations from the
   straight path (its along-path part is the plan). W <- W + mu u_err phi_e^T / (eps + |phi_e|^2)
   (NLMS, purkinje.nlms_update, bounded), with phi_e = phi at the moment the sensed sample shows:
   phi[k - D_pos] for the position term, phi[k - D_vel] for the velocity term (eligibility trace
   matched to the feedback delay; Porrill & Dean 2007, PLoS Comput Biol 3:e197). As u_ff takes
   over, the deviation and u_err shrink. In a curl field F = B v the readout converges to
   u_ff = -B v_d: catch trials then show the mirror-image after-effect (Shadmehr & Mussa-Ivaldi
   1994, J Neurosci 14:3208).
   The motor error is written to `motor_error` (the climbing-fibre signal). Weights leak with
   weight_retention_tau_s if set. While HOLD: no output, no learning; after it the granular
   memories and eligibility rings restart.
   In a viscous field its fixed point is right but it is reached late in the movement: the sensed
   deviation is the field force integrated twice, so the learned command lags the field's (at
   peak speed about 40% of it in configs/curl_adaptation.toml, and catch trials to some targets
   curved with the field).
5b. teacher = "force_residual": the forward model's residual force as the teacher (science.md
   §7: the learned residual -f(x, u) as a cancelling feedforward). For the last sensed velocity
   step (tick m = k - D_vel - 1: the feedback read at tick k was written after the plant's step
   of tick k - 1), the nominal point-mass model (nominal.py; the arm's endpoint inertia Lambda at
   its start posture) says what force moved the hand, Lambda (v[m] - v[m-1]) / dt. Minus the
   feedback command u_fb[m] (ring of past commands) it is f_res = F_unmodelled[m] + u_ff[m]: the
   part of the unmodelled force (field, load, model error) the feedforward has not cancelled.
   The teaching force is u_err = -f_res across the path (its along-path part is the plan: a
   readout of the desired speed would learn a resistive field's along-path force as positive
   speed feedback), paired with phi[m]. It converges to u_ff = -F at the moment the force acts,
   with no lag; a wrong Lambda scales the step (Lambda = (1 + e) Lambda_true moves the fixed
   point by e / (1 + e) of the feedback command). Measured in configs/curl_adaptation.toml: the
   learned lateral force regresses on the field's with slope -0.84 within 150 ms of peak speed,
   lag < 8 ms (seed 1, late exposure).
6. Two timescales (Smith, Ghazizadeh & Shadmehr 2006, PLoS Biol 4:e179, in weight space): with
   slow_learning_rate > 0 a second set W_slow learns from the same motor error at that slower
   rate and leaks with slow_retention_tau_s (none: kept), while W (the fast process) forgets with
   weight_retention_tau_s. After a washout that brings the output back to baseline, W_slow still
   holds part of the field and W the opposite: re-exposure is relearned faster (savings). The slow
   process is the consolidated memory of the adapted command, which savings need and which depends
   on dopamine: Parkinson's patients adapt initially but show little savings (Marinelli et al. 2009,
   Exp Brain Res 199:61; Leow, Loftus & Hammond 2012, Exp Brain Res 218:295), savings reflecting the
   reinforcement of the adapted action (Huang, Haith, Mazzoni & Krakauer 2011, Neuron 70:787).

The path and desired velocity use the current origin and target; for the D ticks after a new
target appears the delayed hand still rests at the line's start, so the mismatch is negligible.
Lesion effects (rtcore.learning.lesions): spe_learning_gain scales both learning rates (cerebellar),
retention both leak times, rpe_gain (dopamine) the slow learning rate (Parkinson's).

Signals: reads `command` [n], `estimate` [>= 2n], `feedback` [>= 2n] (positions, velocities), `target` [n],
`visuomotor` [4] (origin at 2..3), optionally `learned_field` [n*n]; writes `feedforward` [n] (N) and `motor_error` [n] (N).
"""
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field

from rtcore.bus import HOLD
from rtcore import status
from rtcore.cerebellum.granule_basis import decay_factors, granule_reset, granule_step, time_constants_s
from rtcore.cerebellum.nominal import NominalConfig, continuous_matrices
from rtcore.cerebellum.purkinje import nlms_update, purkinje_readout
from rtcore.configbase import Strict
from rtcore.layout import seg, stage_layout
from rtcore.registry import StageSpec
from rtcore.control.command_limits import clip_norm
from rtcore.stage import Stage

INPUTS = ("desired_velocity", "velocity", "efference_copy")  #: mossy inputs, codes 0, 1, 2
TEACHERS = ("feedback_error", "force_residual")  #: teaching signals, codes 0, 1
MIN_PATH_M = 1e-3  #: origin and target closer than this: no path, no desired velocity, no teaching


class FeedforwardConfig(Strict):
    """[feedforward]: the learned feedforward (inverse model) added to the command."""

    enabled: bool = Field(True, description="build the feedforward pathway (false: the command is left as the controller wrote it)")
    gain: float = Field(1.0, ge=0, le=10, description="output gain on the learned command (0: learn silently)")
    learning_rate: float = Field(0.002, ge=0, le=2.0, description="NLMS step mu per tick (0: frozen, the no-learning control)")
    inputs: list[Literal["desired_velocity", "velocity", "efference_copy"]] = Field(
        ["desired_velocity"], min_length=1, description="mossy inputs expanded by the basis bank (each one channel per hand axis)")
    input_scale: list[float] | None = Field(None, description="gain per input (same order as inputs), 1/unit (default 1)")
    n_basis: int = Field(20, ge=1, le=64, description="temporal basis filters per input channel")
    tau_min_s: float = Field(0.002, gt=0, le=1.0, description="shortest basis time constant, s")
    tau_max_s: float = Field(0.3, gt=0, le=5.0, description="longest basis time constant, s")
    basis_order: Literal[1, 2] = Field(2, description="1: first-order low-pass; 2: alpha function")
    kp_n_per_m: float = Field(150.0, ge=0, le=1e5, description="motor error per m of sensed deviation from the path, N/m")
    kd_ns_per_m: float = Field(40.0, ge=0, le=1e4, description="motor error per m/s of sensed lateral velocity, N*s/m")
    teacher: Literal["feedback_error", "force_residual"] = Field(
        "feedback_error", description="teaching signal: the path-feedback correction of the sensed deviation (Kawato 1987), or the force the nominal model cannot account for in the sensed movement (module docstring, 5b)")
    nominal: NominalConfig = Field(NominalConfig(), description="force_residual: the point-mass model whose unexplained force teaches (mass: the arm's endpoint inertia)")
    eligibility_trace: bool = Field(True, description="pair the delayed error with granule activity delayed to match (false: current activity)")
    nlms_eps: float = Field(1.0, gt=0, description="NLMS regulariser added to |phi|^2 (learning slows below this activity)")
    max_error_n: float = Field(20.0, gt=0, description="motor error clipped to +-this per channel, N")
    max_weight: float = Field(1e3, gt=0, description="Purkinje weights clipped to +-this")
    max_force_n: float = Field(20.0, gt=0, le=1e4, description="limit on the feedforward command's norm, N")
    weight_retention_tau_s: float | None = Field(None, gt=0, description="weights decay to 0 with this time constant, s (none: kept)")
    slow_learning_rate: float = Field(0.0, ge=0, le=2.0, description="NLMS step of the slow, retained weights per tick (0: one process)")
    slow_retention_tau_s: float | None = Field(None, gt=0, description="slow weights decay to 0 with this time constant, s (none: kept)")


#: f: readout gain, learning constants, force limit (N), feedback-error gains (N/m, N*s/m), weight
#: leak per tick, the slow process's step and leak, then the basis decay factors a and the gain of
#: each mossy input. s: granular memories g, granule activity phi, Purkinje weights W (fast) and
#: W_slow, mossy inputs, the command as it arrived (u_fb), scratch rows (path unit vector, lateral
#: deviation, motor error, slow readout) and the ring of past
#: granule activity. i: bus offsets (origin: the visuomotor signal's start of reach), sizes, the
#: eligibility delays of the position and velocity terms (ticks), trace flag, tick count, the bus
#: offset of `learned_field` (-1: none), and the code of each mossy input (INPUTS).
LAYOUT = stage_layout(
    "feedforward",
    f="gain mu eps err_max w_max f_max kp kd leak mu_slow leak_slow inv_dt a[n_b] scale[n_inputs] inertia[n,n]",
    s="g[n_in,n_b,order] phi[n_f] W[n,n_f] W_slow[n,n_f] mossy[n_in] u_fb[n] scratch[4,n] ring_phi[ring,n_f] "
      "ring_u[ring,n] v_prev[n]",
    i="cmd n est fb tgt origin ff err n_b order n_in n_f d_pos d_vel ring trace count=0 n_inputs field teacher "
      "inputs[n_inputs]")
F, I, AT = LAYOUT.F, LAYOUT.I, LAYOUT.AT


@njit(cache=True, nogil=True)
def _path(bus, i, n, u):
    """Unit vector origin -> target into u (n); False when the path is shorter than MIN_PATH_M."""
    sq = 0.0
    for j in range(n):
        u[j] = bus[i[I.tgt] + j] - bus[i[I.origin] + j]
        sq += u[j] * u[j]
    if not sq > MIN_PATH_M * MIN_PATH_M:
        return False
    norm = np.sqrt(sq)
    for j in range(n):
        u[j] /= norm
    return True


@njit(cache=True, nogil=True)
def _off_path(v, u, n):
    """v minus its component along unit u: the lateral part (n-D), written back into v."""
    a = 0.0
    for j in range(n):
        a += v[j] * u[j]
    for j in range(n):
        v[j] -= a * u[j]


@njit(cache=True, nogil=True)
def _learn(f, s, i, W, W_slow, phi, uerr, d, k):
    """NLMS step of W (and W_slow) toward the teaching force uerr, against the granule activity d
    ticks ago (the eligibility trace) or now."""
    n, n_f, R = i[I.n], i[I.n_f], i[I.ring]
    if f[F.mu] > 0.0:
        ro = i[I.s_ring_phi] + ((k - d) % R) * n_f
        x = s[ro:ro + n_f] if i[I.trace] == 1 else phi
        nlms_update(W, x, uerr, n, n_f, f[F.mu], f[F.eps], f[F.err_max], f[F.w_max])
        if f[F.mu_slow] > 0.0:
            nlms_update(W_slow, x, uerr, n, n_f, f[F.mu_slow], f[F.eps], f[F.err_max], f[F.w_max])


@njit(cache=True, nogil=True)
def _feedback_error(f, s, i, bus, path, lat, uerr, W, W_slow, phi, k):
    """Feedback-error learning (module docstring, step 5): the path-feedback correction of the
    delayed sensed deviation, position term then velocity term, each with its own delay."""
    n, fb, err = i[I.n], i[I.fb], i[I.err]
    for term in range(2):  # 0: position (kp, delay D_pos); 1: velocity (kd, delay D_vel)
        for j in range(n):
            lat[j] = bus[fb + j] - bus[i[I.origin] + j] if term == 0 else bus[fb + n + j]
        _off_path(lat, path, n)
        gain = f[F.kp] if term == 0 else f[F.kd]
        for j in range(n):
            uerr[j] = -gain * lat[j]
            bus[err + j] += uerr[j]
        _learn(f, s, i, W, W_slow, phi, uerr, i[I.d_pos] if term == 0 else i[I.d_vel], k)


@njit(cache=True, nogil=True)
def _force_residual(f, s, i, bus, path, acc, uerr, W, W_slow, phi, k):
    """Force-residual teaching (module docstring, step 5b): the force the nominal model cannot
    account for in the last sensed velocity step, f_res = Lambda (v[m] - v[m-1]) / dt - u_fb[m]; the
    teaching force is -f_res, paired with the granule activity of tick m (m = k - D_vel - 1)."""
    n, fb, err, R = i[I.n], i[I.fb], i[I.err], i[I.ring]
    d = i[I.d_vel] + 1  # the feedback read this tick was written after the plant's step of tick k - 1
    vp, uo, o_m = i[I.s_v_prev], i[I.s_ring_u] + ((k - d) % R) * n, i[I.f_inertia]
    for j in range(n):
        acc[j] = (bus[fb + n + j] - s[vp + j]) * f[F.inv_dt]
    for j in range(n):
        r = -s[uo + j]
        for q in range(n):
            r += f[o_m + j * n + q] * acc[q]
        uerr[j] = -r
    _off_path(uerr, path, n)
    for j in range(n):
        bus[err + j] = uerr[j]
    _learn(f, s, i, W, W_slow, phi, uerr, d, k)


@njit(cache=True, nogil=True)
def feedforward_step(f, s, i, bus):
    """One tick of the feedforward pathway (module docstring, steps 1-5)."""
    n, n_b, n_in, n_f, R, k = i[I.n], i[I.n_b], i[I.n_in], i[I.n_f], i[I.ring], i[I.count]
    cmd, ff, err = i[I.cmd], i[I.ff], i[I.err]
    g = s[AT.s_g:AT.s_g + n_in * n_b * i[I.order]]
    phi = seg(s, i, I.s_phi, n_f)
    W = seg(s, i, I.s_W, n * n_f)
    W_slow = seg(s, i, I.s_W_slow, n * n_f)
    mossy = seg(s, i, I.s_mossy, n_in)
    ufb = seg(s, i, I.s_u_fb, n)
    e = seg(s, i, I.s_scratch, 4 * n)  # path unit vector, lateral deviation, motor error, slow readout
    path, lat, uerr, z_slow = e[0:n], e[n:2 * n], e[2 * n:3 * n], e[3 * n:4 * n]
    for j in range(n):
        bus[ff + j] = 0.0
        bus[err + j] = 0.0
    if bus[HOLD] != 0.0:
        i[I.count] = 0  # the granular memories and the eligibility rings restart after the hold
        return status.OK
    for j in range(n):
        ufb[j] = bus[cmd + j]
    has_path = _path(bus, i, n, path)
    # 1-2. mossy inputs
    est, o_scale, o_a = i[I.est], i[I.f_scale], AT.f_a
    along = 0.0
    if has_path:
        for j in range(n):
            along += bus[est + n + j] * path[j]
    for q in range(i[I.n_inputs]):
        code, sc = i[AT.i_inputs + q], f[o_scale + q]
        for j in range(n):
            if code == 0:
                x = along * path[j] if has_path else 0.0
            elif code == 1:
                x = bus[est + n + j]
            else:
                x = ufb[j]
            mossy[q * n + j] = x * sc if np.isfinite(x) else 0.0
    # 3. granular layer
    if k == 0:
        granule_reset(g, phi, mossy, n_in, n_b, i[I.order])
        for q in range(R):
            for c in range(n_f):
                s[i[I.s_ring_phi] + q * n_f + c] = phi[c]
    else:
        granule_step(g, phi, mossy, f[o_a:o_a + n_b], n_in, n_b, i[I.order])
    phi[0] = 0.0  # no bias: no learned force at rest
    r0 = i[I.s_ring_phi] + (k % R) * n_f
    for c in range(n_f):
        s[r0 + c] = phi[c]
    # 4. readout, added to the command
    purkinje_readout(W, phi, lat, n, n_f)
    purkinje_readout(W_slow, phi, z_slow, n, n_f)
    for j in range(n):
        bus[ff + j] = f[F.gain] * (lat[j] + z_slow[j])
    if i[I.field] >= 0 and has_path:  # the trial-level learner's field K (n x n) on v_d
        for j in range(n):
            for q in range(n):
                bus[ff + j] += bus[i[I.field] + j * n + q] * along * path[q]
    code = clip_norm(bus, ff, n, f[F.f_max])
    for j in range(n):
        bus[cmd + j] = ufb[j] + bus[ff + j]
    # 5. learning from the delayed sensed movement
    fb, vp = i[I.fb], i[I.s_v_prev]
    ru = i[I.s_ring_u] + (k % R) * n
    for j in range(n):
        s[ru + j] = ufb[j]
    if has_path and k > R:
        if i[I.teacher] == 0:
            _feedback_error(f, s, i, bus, path, lat, uerr, W, W_slow, phi, k)
        else:
            _force_residual(f, s, i, bus, path, lat, uerr, W, W_slow, phi, k)
    for j in range(n):
        s[vp + j] = bus[fb + n + j]
    leak, leak_slow = f[F.leak], f[F.leak_slow]
    if leak < 1.0 or leak_slow < 1.0:
        for q in range(n * n_f):
            W[q] *= leak
            W_slow[q] *= leak_slow
    i[I.count] = k + 1
    return code


def build(cfg: FeedforwardConfig, ctx, feedback_delay_ticks: np.ndarray, spe_learning_gain: float = 1.0,
          retention: float = 1.0, rpe_gain: float = 1.0, where: str = "feedforward") -> Stage:
    """The feedforward stage; registers `feedforward` and `motor_error`.

    feedback_delay_ticks (n_x,): the feedback line's per-channel delays (position channels 0..n,
    velocity channels n..2n) that set the eligibility delays. spe_learning_gain multiplies the
    learning rates and retention the weights' time constants; rpe_gain (dopamine) multiplies the slow
    learning rate (rtcore.learning.lesions.LesionEffects).
    """
    bus = ctx.bus
    for name in ("target", "visuomotor"):
        if not bus.has(name):
            raise ValueError(f"{where}: needs the task's '{name}' signal (the desired path); add a [task] section")
    tgt = bus.get("target", who=where)
    n = tgt.width
    cmd = bus.get("command", who=where)
    if cmd.width != n or cmd.unit != "N":
        raise ValueError(f"{where}: the command has {cmd.width} channels ({', '.join(cmd.labels)}, {cmd.unit or 'no unit'}), the target {n}; "
                         f"the feedforward needs an endpoint-force command (plant.command_space = 'endpoint')")
    est = bus.get("estimate", who=where)
    fb = bus.get("feedback", who=where)
    for sig in (est, fb):
        if sig.width < 2 * n:
            raise ValueError(f"{where}: '{sig.name}' has {sig.width} channels; needs hand position and velocity ({2 * n})")
    vis = bus.get("visuomotor", 4, who=where)
    if cfg.tau_max_s < cfg.tau_min_s:
        raise ValueError(f"{where}.tau_max_s ({cfg.tau_max_s}) is below tau_min_s ({cfg.tau_min_s})")
    n_inputs = len(cfg.inputs)
    scale = np.ones(n_inputs) if cfg.input_scale is None else np.asarray(cfg.input_scale, dtype=float)
    if scale.shape != (n_inputs,):
        raise ValueError(f"{where}.input_scale: {scale.size} gains for {n_inputs} inputs ({', '.join(cfg.inputs)})")
    delays = np.asarray(feedback_delay_ticks, dtype=np.int64)
    d_pos, d_vel = int(delays[:n].max()), int(delays[n:2 * n].max())
    R = max(d_pos, d_vel) + 2
    n_b, order = cfg.n_basis, cfg.basis_order
    n_in = n_inputs * n
    n_f = 1 + n_in * n_b  # slot 0 is the granule bank's bias, held at 0 here
    a = decay_factors(time_constants_s(n_b, cfg.tau_min_s, cfg.tau_max_s), ctx.dt_s)
    leak, leak_slow = (1.0 if tau is None else float(np.exp(-ctx.dt_s / (tau * retention)))
                       for tau in (cfg.weight_retention_tau_s, cfg.slow_retention_tau_s))
    mu_slow = cfg.slow_learning_rate * spe_learning_gain * rpe_gain
    inertia = np.zeros((n, n))
    if cfg.teacher == "force_residual":
        if cfg.nominal.kind != "point_mass":
            raise ValueError(f"{where}.nominal.kind = {cfg.nominal.kind!r}: the force_residual teacher needs the point-mass "
                             f"model (kind = 'point_mass'), whose inertia turns the sensed velocity change into force")
        _, b_nominal = continuous_matrices(cfg.nominal, 2 * n, n, ctx, f"{where}")  # velocity rows: Lambda^-1
        inertia = np.linalg.inv(b_nominal[n:, :])
    axes = [lab.removeprefix("target_") for lab in tgt.labels]
    out = bus.derive("feedforward", cmd, [f"ff_{lab}" for lab in cmd.labels])
    err = bus.derive("motor_error", cmd, [f"motor_error_{ax}" for ax in axes])
    f, s, i = LAYOUT.fill(
        f=dict(gain=cfg.gain, mu=cfg.learning_rate * spe_learning_gain, eps=cfg.nlms_eps, err_max=cfg.max_error_n,
               w_max=cfg.max_weight, f_max=cfg.max_force_n, kp=cfg.kp_n_per_m, kd=cfg.kd_ns_per_m, leak=leak,
               mu_slow=mu_slow, leak_slow=leak_slow, inv_dt=1.0 / ctx.dt_s, a=a, scale=scale, inertia=inertia),
        i=dict(cmd=cmd.offset, n=n, est=est.offset, fb=fb.offset, tgt=tgt.offset, origin=vis.offset + 2,
               ff=out.offset, err=err.offset, n_b=n_b, order=order, n_in=n_in, n_f=n_f, d_pos=d_pos, d_vel=d_vel,
               ring=R, trace=int(cfg.eligibility_trace), n_inputs=n_inputs, teacher=TEACHERS.index(cfg.teacher),
               field=bus.get("learned_field", n * n, who=where).offset if bus.has("learned_field") else -1,
               inputs=[INPUTS.index(name) for name in cfg.inputs]))
    return Stage(where, SPEC.kind, f, s, i,
                 info={"rule": cfg.teacher, "inertia_kg": inertia.round(4).tolist(), "inputs": list(cfg.inputs), "n_features": n_f - 1,
                       "learning_rate": float(f[F.mu]), "slow_learning_rate": mu_slow, "gain": cfg.gain,
                       "eligibility_delay_s": [d_pos * ctx.dt_s, d_vel * ctx.dt_s],
                       "layout": {name: int(o) for name, o in LAYOUT.s.offsets(LAYOUT.dims(i)).items() if name}})


#: Learned state (rtcore.checkpoint): the feedforward's Purkinje weights W (consolidated: forgotten
#: over a break as the slow state) and its eligibility trace ring_phi (the ring of granule activity).
SPEC = StageSpec(kind=55, name="feedforward", step=feedforward_step, config=FeedforwardConfig, build=build,
                 layout=LAYOUT, learned={"W": "slow", "ring_phi": "kept"}, learned_on=("plant.kind",))
