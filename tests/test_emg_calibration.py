"""EMG calibration: rest/MVC levels from recordings (also live over LSL loopback, through the
`rtcore calibrate emg` handler), used by the decoder to normalise; bad data gives a one-line error."""
import argparse
import threading
import time

import numpy as np
import pylsl
import pytest
from scipy import signal

from rtcore.bus import Bus
from rtcore.decoders import calibrate_cli, calibration, emg
from rtcore.stage import BuildContext

RATE_HZ = 1000.0
CFG = emg.EmgDecoderConfig(kind="emg", input_rate_hz=RATE_HZ, bandpass_hz=(20.0, 400.0))


def band_noise(g, n, n_ch, scale):
    sos = signal.butter(4, (20.0, 400.0), btype="bandpass", fs=RATE_HZ, output="sos")
    return signal.sosfilt(sos, g.standard_normal((n, n_ch)), axis=0) * np.asarray(scale)


def test_fit_gives_levels_that_normalise_rest_to_zero_and_mvc_to_one():
    g = np.random.default_rng(0)
    rest = band_noise(g, 2000, 3, [0.01, 0.02, 0.01])
    mvc = band_noise(g, 2000, 3, [1.0, 0.5, 2.0])
    cal = calibration.fit_emg_calibration(rest, mvc, RATE_HZ, CFG)
    assert np.all(cal["mvc"] > 20 * cal["rest"])
    assert np.allclose(cal["mvc"] / cal["mvc"][0], [1.0, 0.5, 2.0], rtol=0.15)  # follows the contraction level
    f, s, i = emg.chain_arrays(CFG, 3, RATE_HZ, cal["rest"], cal["mvc"], np.eye(3), "test")
    env = emg.emg_envelope_block(f, s, i, mvc)[500:]
    u = np.clip((env - cal["rest"]) / (cal["mvc"] - cal["rest"]), 0, 1)
    assert np.all(np.abs(u.mean(axis=0) - 0.75) < 0.15)  # MVC data sits near the top of the range


@pytest.mark.parametrize("case,match", [
    ("zero_channel", "channel 1 is constant .* in the MVC recording"),
    ("too_few", "too few rest samples: 300 .* need at least 750"),
    ("weak", "channel 2: MVC envelope .* is not clearly above rest"),
    ("nan", "channel 0 has NaN/Inf samples in the MVC recording"),
])
def test_bad_calibration_data_gives_a_clear_one_line_error(case, match):
    g = np.random.default_rng(1)
    rest = band_noise(g, 2000, 3, 0.01)
    mvc = band_noise(g, 2000, 3, 1.0)
    if case == "zero_channel":
        mvc[:, 1] = 0.0
    elif case == "too_few":
        rest = rest[:300]
    elif case == "weak":
        mvc[:, 2] = rest[:, 2]
    elif case == "nan":
        mvc[100, 0] = np.nan
    with pytest.raises(ValueError, match=match) as e:
        calibration.fit_emg_calibration(rest, mvc, RATE_HZ, CFG)
    assert "\n" not in str(e.value)


def test_saved_calibration_is_loaded_by_the_decoder(tmp_path):
    g = np.random.default_rng(2)
    cal = calibration.fit_emg_calibration(band_noise(g, 2000, 2, 0.01), band_noise(g, 2000, 2, 1.0), RATE_HZ, CFG)
    path = calibration.save_emg_calibration(tmp_path / "cal", cal, RATE_HZ, CFG, stream="EMG")
    ctx = BuildContext(bus=Bus(), dt_s=0.001, seed=0)
    ctx.bus.add("input", 2)
    st = emg.build(CFG.model_copy(update={"calibration_file": path}), ctx)
    assert st.info["calibrated"]
    assert np.allclose(emg.LAYOUT.view(st, "rest"), cal["rest"])
    ctx3 = BuildContext(bus=Bus(), dt_s=0.001, seed=0)
    ctx3.bus.add("input", 3)
    with pytest.raises(ValueError, match=r"decoder\.calibration_file: .* calibrates 2 channels, the input has 3"):
        emg.build(CFG.model_copy(update={"calibration_file": path}), ctx3)


def test_calibrate_emg_command_records_a_live_lsl_stream(tmp_path):
    """A real pylsl outlet on loopback: quiet until the MVC prompt, then strong activity."""
    name = f"rtcore-test-emg-cal-{time.monotonic_ns()}"
    info = pylsl.StreamInfo(name, "EMG", 2, RATE_HZ, "float32", name)
    outlet = pylsl.StreamOutlet(info)
    level = {"v": 0.01}
    stop = threading.Event()

    def publish():
        g = np.random.default_rng(3)
        sos = signal.butter(4, (20.0, 400.0), btype="bandpass", fs=RATE_HZ, output="sos")
        z = np.zeros((sos.shape[0], 2, 2))
        while not stop.is_set():
            x, z[:] = signal.sosfilt(sos, g.standard_normal((20, 2)), axis=0, zi=z)
            outlet.push_chunk((x * level["v"]).astype(np.float32).tolist())
            time.sleep(0.02)

    th = threading.Thread(target=publish, daemon=True)
    th.start()
    try:
        parser = argparse.ArgumentParser()
        calibrate_cli.add_calibrate_parser(parser.add_subparsers(dest="cmd"))
        args = parser.parse_args(["calibrate", "emg", "--stream", name, "--out", str(tmp_path / "cal"),
                                  "--rest-s", "1.2", "--mvc-s", "1.2", "--yes"])
        inlet = calibrate_cli.resolve_inlet(args.stream, 5.0)

        def prompt(phase):
            level["v"] = 1.0 if phase == "mvc" else 0.01
            time.sleep(0.1)

        cal, rate = calibrate_cli.calibrate_emg(inlet, args.rest_s, args.mvc_s, CFG, prompt)
        assert rate == RATE_HZ and np.all(cal["mvc"] > 20 * cal["rest"])
        # the command itself: a wrong name fails in one line listing the visible streams
        bad = parser.parse_args(["calibrate", "emg", "--stream", "no-such-stream", "--out", str(tmp_path / "x"),
                                 "--timeout-s", "0.5", "--yes"])
        assert bad.handler(bad) == 2
        assert not (tmp_path / "x.npz").exists()
    finally:
        stop.set()
        th.join()
