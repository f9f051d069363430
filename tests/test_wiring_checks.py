"""Wiring mistakes are refused at build time with one line that names the stages and the fix:
a decoded signal no stage reads (the cursor never moves) and a signal written by two stages."""
import pytest

import rtcore  # noqa: F401
from rtcore import pipeline
from rtcore.config import validate
from rtcore.decoders import kalman_fit


@pytest.fixture(scope="module")
def decoder_file(tmp_path_factory):
    return kalman_fit.save_kalman(tmp_path_factory.mktemp("wiring") / "random", kalman_fit.random_decoder(16, 0.05, 0))


def bci(decoder_file, decoder=None, plant=None, **sections):
    raw = {"session": {"duration_s": 1.0}, "loop": {"realtime": False, "rate_hz": 100},
           "source": {"kind": "synthetic_neural", "n_units": 16},
           "decoder": {"kind": "kalman", "decoder_file": decoder_file, **(decoder or {})},
           "plant": {"kind": "cursor", **(plant or {})},
           "task": {"kind": "center_out"}, "block": [{"name": "b", "n_trials": 2}], **sections}
    return validate(raw, "bci.toml")


def test_decoder_output_that_no_stage_reads_is_refused(decoder_file):
    # the session: a Kalman decoder writes `intent`, the cursor reads `command`, no controller
    with pytest.raises(ValueError) as e:
        pipeline.build(bci(decoder_file), "bci.toml")
    msg = str(e.value)
    assert "\n" not in msg
    assert "[decoder] kind = 'kalman' writes bus signal 'intent', which no stage reads" in msg
    assert 'velocity_signal = "intent"' in msg and 'kind = "passthrough"' in msg  # the fixes


def test_signal_written_by_two_stages_names_both_and_the_fix(decoder_file):
    with pytest.raises(ValueError) as e:
        pipeline.build(bci(decoder_file, decoder={"output": "command"}), "bci.toml")
    msg = str(e.value)
    assert "bus signal 'command' is written by two stages: [decoder] kind = 'kalman' and [plant] kind = 'cursor'" in msg
    assert '[decoder] output = "intent" read by [plant] velocity_signal = "intent"' in msg


def test_correct_wiring_builds_and_a_published_only_output_is_a_warning(decoder_file):
    pipe = pipeline.build(bci(decoder_file, plant={"velocity_signal": "intent"}), "bci.toml")
    assert pipe.warnings == []
    pipe.close()
    passthrough = bci(decoder_file, controller={"kind": "passthrough"})
    pipeline.build(passthrough, "bci.toml").close()
    # recorded on purpose (open-loop decoding): a warning, not an error
    recorded = bci(decoder_file, record={"signals": ["intent", "state"]})
    pipe = pipeline.build(recorded, "bci.toml")
    assert len(pipe.warnings) == 2 and "only recorded or published" in pipe.warnings[0]
    assert "no stage writes the plant's command" in pipe.warnings[1]
    pipe.close()
