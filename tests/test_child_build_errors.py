"""The child turns only the user's wiring mistakes into one-line errors; a KeyError from our own
code is a bug and keeps its traceback (rtcore.child.main lets it propagate; `python -m rtcore.child`
prints it into child.log and the parent points there)."""
import json
import signal

import numpy as np
import pytest

from rtcore import child, shm
from rtcore.bus import Bus, MissingSignal
from rtcore.config import SessionConfig
from rtcore.loop import CTRL_SIZE, CTRL_STATE, STATE_FAILED


def test_a_missing_bus_signal_is_a_keyerror_with_a_plain_message():
    with pytest.raises(KeyError) as err:
        Bus().get("state", who="controller")
    assert isinstance(err.value, MissingSignal)
    assert str(err.value).startswith("controller: needs bus signal 'state', which no earlier stage writes")


@pytest.fixture
def child_run(tmp_path, monkeypatch):
    """(rundir, ctrl path, ctrl) for child.main in this process, SIGINT handling left as it was."""
    monkeypatch.setattr(signal, "signal", lambda *a: None)
    cfg = SessionConfig.model_validate({"session": {"name": "child-build-errors"}})
    (tmp_path / "config.json").write_text(json.dumps(cfg.model_dump(mode="json")))
    ctrl_path = shm.create("ctrl", CTRL_SIZE * 8)
    try:
        yield tmp_path, ctrl_path, shm.attach(ctrl_path, np.int64, (CTRL_SIZE,))
    finally:
        shm.remove(ctrl_path)


def _raise(exc):
    def build(cfg, config_path):
        raise exc
    return build


def test_wiring_mistake_is_one_line_and_a_bug_keeps_its_traceback(child_run, monkeypatch):
    rundir, ctrl_path, ctrl = child_run
    wiring = "controller: needs bus signal 'estimate', which no earlier stage writes; have: tick"
    monkeypatch.setattr(child, "build", _raise(MissingSignal(wiring)))
    assert child.main(str(rundir), ctrl_path) == 2
    assert json.loads((rundir / "child_error.json").read_text()) == {"error": wiring}
    assert ctrl[CTRL_STATE] == STATE_FAILED

    (rundir / "child_error.json").unlink()
    monkeypatch.setattr(child, "build", _raise(KeyError("plant")))  # e.g. a dict lookup gone wrong
    with pytest.raises(KeyError, match="plant"):
        child.main(str(rundir), ctrl_path)
    assert not (rundir / "child_error.json").exists()
