"""A supervised `rtcore run` session on an emulated Dynamixel arm: unplugging it mid-session (closing
the pty) ends the run cleanly with exit_reason "device lost", in safe hold, with the recording kept."""
import subprocess
import time

import numpy as np

from rtcore import recording, status
from devices.emulators.dynamixel_bus import DynamixelBusEmulator
from enginecli import RTCORE, dynamixel_session, summary, write_config


def test_unplugged_dynamixel_ends_the_session_with_device_lost(tmp_path):
    with DynamixelBusEmulator(ids=(1, 2)) as em:
        path = write_config(tmp_path, dynamixel_session("dxl", em.path, 120.0))
        out = tmp_path / "out"
        proc = subprocess.Popen(RTCORE + ["run", path, "--out", str(out), "--quiet"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        end = time.monotonic() + 900  # the first run compiles the whole tick
        while em.snapshot()["sync_writes"] < 100 and time.monotonic() < end and proc.poll() is None:
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        em.close()  # unplug: ~1 s into the session
        stdout, stderr = proc.communicate(timeout=60)
    s = summary(out)
    assert s["exit_code"] == status.DEVICE_LOST, stdout + stderr
    assert s["exit_reason"] == "plant: " + status.describe(status.DEVICE_LOST)
    assert 400 <= s["ticks"] < 60_000  # ended right after the unplug, long before duration_s
    assert s["plant_device"]["fault"] == 2 and s["plant_device"]["states"] >= 100
    rec = recording.load(out)
    assert rec["rows"].shape[0] == s["ticks"]  # every tick recorded, up to the last one
    hold = rec["hold"][:, 0]
    assert hold[-1] == 1.0 and not np.any(hold[:-1])  # safe hold on the final tick only
    assert rec["device"][-1, 1] == 3  # fault code: port lost
    np.testing.assert_allclose(rec["state"][-1, :2], 0.0, atol=0.01)  # the arm held its start posture
