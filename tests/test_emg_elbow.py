"""EMG myocontrol of the MyoSuite elbow: calibrated biceps/triceps EMG, decoded per sample into the
six muscle excitations (passthrough into the plant's `command`), flexes and extends the elbow."""
import numpy as np
from scipy import signal

from rtcore import status
import rtcore  # noqa: F401
from rtcore.bus import Bus
from rtcore.decoders import calibration, emg
from rtcore.stage import BuildContext
from rtcore.stage import run_links
from sims.plants import muscle_elbow
from sims.plants.mujoco_plant import mujoco_plant_step

RATE_HZ, PER_TICK = 2000.0, 2
# electrode 0 over the elbow flexors (biceps, brachialis), electrode 1 over the triceps
MUSCLES = [1, 1, 1, 0, 0, 0]  # TRIlong TRIlat TRImed <- ch 1; BIClong BICshort BRA <- ch 0


def emg_of(g, levels, seconds):
    """Raw EMG [n, 2]: band-limited Gaussian carriers scaled by each electrode's level (V)."""
    n = int(seconds * RATE_HZ)
    sos = signal.butter(4, (20.0, 450.0), btype="bandpass", fs=RATE_HZ, output="sos")
    return signal.sosfilt(sos, g.standard_normal((n, 2)), axis=0) * np.asarray(levels) + 0.002 * g.standard_normal((n, 2))


def test_elbow_follows_agonist_and_antagonist_activation(tmp_path):
    g = np.random.default_rng(0)
    cfg = emg.EmgDecoderConfig(kind="emg", input_rate_hz=RATE_HZ, muscles=MUSCLES, output="command")
    cal = calibration.fit_emg_calibration(emg_of(g, [0.0, 0.0], 2.0), emg_of(g, [1.0, 1.0], 2.0), RATE_HZ, cfg)
    path = calibration.save_emg_calibration(tmp_path / "elbow_cal", cal, RATE_HZ, cfg)

    ctx = BuildContext(bus=Bus(), dt_s=PER_TICK / RATE_HZ, seed=0)
    for name, width in (("input", 2), ("input_block", 2 * PER_TICK), ("input_n", 1)):
        ctx.bus.add(name, width)
    # BUILD order: the decoder before the plant that registers `command`; bound at link time
    dec = emg.build(cfg.model_copy(update={"calibration_file": path}), ctx)
    plant = muscle_elbow.build(muscle_elbow.MuscleElbowConfig(kind="muscle_elbow", start_deg=60.0), ctx)
    run_links(ctx)
    bus = ctx.bus.array()
    sig = ctx.bus.signals
    assert dec.i[emg.I.out] == sig["command"].offset  # the decoder drives the plant's command

    phases = [("rest", [0.0, 0.0], 0.5), ("flex", [0.6, 0.0], 1.0), ("extend", [0.0, 0.6], 1.0)]
    raw = np.concatenate([emg_of(g, lv, sec) for _, lv, sec in phases])
    angle, cmd = [], []
    blk, n_off = sig["input_block"].offset, sig["input_n"].offset
    for k in range(0, len(raw), PER_TICK):
        bus[blk:blk + 2 * PER_TICK] = raw[k:k + PER_TICK].ravel()
        bus[n_off] = PER_TICK
        assert emg.emg_step(dec.f, dec.s, dec.i, bus) == status.OK
        assert mujoco_plant_step(plant.f, plant.s, plant.i, bus) in (status.OK, status.LIMIT_CLIPPED)
        angle.append(bus[sig["state"].offset])
        cmd.append(bus[sig["command"].slice].copy())
    angle, cmd = np.degrees(angle), np.array(cmd)
    t = np.arange(len(angle)) * ctx.dt_s
    at = lambda s: angle[np.searchsorted(t, s)]  # noqa: E731
    print(f"\nelbow angle: start {angle[0]:.0f} deg, end of rest {at(0.49):.0f}, after flexors {at(1.49):.0f}, "
          f"after triceps {angle[-1]:.0f}")
    flex, ext = (t > 0.8) & (t < 1.5), (t > 1.8)
    assert np.all(cmd[flex, 3:] > 0.25) and np.all(cmd[flex, :3] < 0.05)  # biceps/brachialis on, triceps off
    assert np.all(cmd[ext, :3] > 0.25) and np.all(cmd[ext, 3:] < 0.05)
    assert at(1.49) > at(0.49) + 20.0  # the flexors flex the elbow
    assert angle[-1] < at(1.49) - 20.0  # the triceps extend it
