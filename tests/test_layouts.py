"""Every stage kind declares its f/s/i layout once (rtcore.layout); built stages match it exactly.

Sessions covering the stage kinds are built (not run) from config dicts; each built stage's arrays
must have the sizes and segment starts its declared layout gives for the dims in its i array.
Filling by name refuses a missing or an unknown name, and a segment of the wrong shape. No stage
code indexes its f, s or i array with a bare integer: slots are named.
"""
import ast
import inspect
import os
import sys

import numpy as np
import pylsl
import pytest

from devices.emulators.dynamixel_bus import DynamixelBusEmulator
from rtcore import config, families, pipeline
import rtcore  # noqa: F401  (sets the Numba cache directory before compiled code loads)
from rtcore.decoders import kalman_fit
from rtcore.layout import REGISTRY, StageLayout, stage_layout


def step_module(step):
    """The module that defines a compiled step (its LAYOUT lives there)."""
    return sys.modules[getattr(step, "py_func", step).__module__]


def layouts_by_kind() -> dict:
    """{kind code: StageLayout} for every stage the families can build."""
    return {spec.kind: step_module(spec.step).LAYOUT for _, spec in families.specs()}


def test_every_registered_stage_declares_a_registered_layout():
    specs = families.specs()
    assert len(specs) >= 20
    for family, spec in specs:
        module = step_module(spec.step)
        lay = getattr(module, "LAYOUT", None)
        assert isinstance(lay, StageLayout), f"{family.__name__}: {module.__name__} ('{spec.name}') declares no LAYOUT"
        assert REGISTRY[lay.name] is lay


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Stages of sessions that together build every stage kind but replay (build only; nothing runs)."""
    tmp = tmp_path_factory.mktemp("layouts")
    decoder = kalman_fit.save_kalman(str(tmp / "kf"), kalman_fit.random_decoder(16, 0.05, seed=1))
    name = f"rtcore-layouts-{os.getpid()}"
    peer = pylsl.StreamOutlet(pylsl.StreamInfo(name, "EMG", 3, 500.0, "float32", name))
    stim = pylsl.StreamOutlet(pylsl.StreamInfo(f"{name}-stim", "Markers", 1, 0.0, "string", f"{name}-stim"))
    loop = {"realtime": False, "rate_hz": 1000}
    arm = {"session": {"name": name}, "loop": loop,
           "source": {"kind": "synthetic_emg", "n_channels": 4, "rate_hz": 2000},
           "decoder": {"kind": "emg", "input_rate_hz": 2000, "pairs": [[0, 2], [1, 3]], "output": "command"},
           "plant": {"kind": "two_link_arm"}, "task": {"kind": "center_out"},
           "block": [{"name": "base", "n_trials": 3}], "forward_model": {"rule": "rls", "n_basis": 3},
           "outlet": [{"stream": "state", "signals": ["state"]}], "test": {"crash_at_tick": 10**9}}
    reach = {"session": {"name": name}, "loop": loop, "plant": {"kind": "two_link_arm"},
             "task": {"kind": "center_out"}, "block": [{"name": "base", "n_trials": 2}],
             "controller": {"kind": "endpoint_pd"}, "forward_model": {"n_basis": 2},
             "feedforward": {"learning_rate": 0.002}, "learning": {}, "aim": {}}
    bci = {"session": {"name": name}, "loop": loop, "source": {"kind": "synthetic_neural", "n_units": 16},
           "decoder": {"kind": "kalman", "decoder_file": decoder, "clda": {"method": "rml"}},
           "plant": {"kind": "cursor"}, "controller": {"kind": "passthrough"},
           "task": {"kind": "center_out"}, "block": [{"name": "base", "n_trials": 2}]}
    elbow = {"session": {"name": name}, "loop": loop, "plant": {"kind": "muscle_elbow"},
             "controller": {"kind": "joint_pd"}, "task": {"kind": "joint_tracking"},
             "block": [{"name": "base", "n_trials": 2}]}
    observation = {"session": {"name": name}, "loop": loop, "plant": {"kind": "cursor"},
                   "controller": {"kind": "autopilot"}, "task": {"kind": "center_out"},
                   "block": [{"name": "base", "n_trials": 2}]}
    lsl = {"session": {"name": name}, "loop": loop,
           "source": [{"kind": "lsl", "name": name, "channels": 3},
                      {"kind": "lsl_markers", "name": f"{name}-stim", "actions": {"pause": "pause", "go on": "resume"}}],
           "decoder": {"kind": "linear", "n_out": 2, "weights_seed": 0},
           "record": {"signals": ["input", "intent"]}}  # decoding only: recorded (a wiring warning)
    stages = []
    with DynamixelBusEmulator(ids=(1, 2)) as em:
        servo = {"session": {"name": name}, "loop": {"realtime": False, "rate_hz": 500},
                 "plant": {"kind": "dynamixel", "port": em.path, "ids": [1, 2], "device_rate_hz": 100}}
        for raw in (arm, reach, bci, elbow, observation, lsl, servo):
            pipe = pipeline.build(config.validate(raw))
            stages += pipe.chain.stages
            pipe.close()
    del peer, stim
    return stages


def test_built_stages_match_their_declared_layouts(built):
    kinds = layouts_by_kind()
    seen = set()
    for st in built:
        lay = kinds[st.kind]
        lay.check(st)  # sizes and segment starts, for the dims in st.i
        seen.add(lay.name)
    declared = {lay.name for lay in kinds.values()}
    assert seen == declared - {"replay"}, f"no session here builds {sorted(declared - seen)}"


def test_views_read_the_segment_the_step_uses(built):
    kinds = layouts_by_kind()
    fm = next(st for st in built if kinds[st.kind].name == "forward_model" and st.info["rule"] == "rls")
    lay = kinds[fm.kind]
    n_f = int(lay.get(fm, "n_f"))
    assert np.array_equal(lay.view(fm, "P"), fm.f[lay.F.p0] * np.eye(n_f))  # RLS P starts at p0 I
    assert lay.view(fm, "P").base is not None  # a view of the live array, not a copy
    ff = next(st for st in built if kinds[st.kind].name == "feedforward")
    assert ff.info["layout"]["W"] == int(ff.i[kinds[ff.kind].I.s_W])  # the reported layout is the one used


def test_fill_refuses_missing_and_unknown_names_and_wrong_shapes():
    lay = stage_layout("test_layout_probe", f="gain W[n,2]", s="x[n]", i="n out=-1")
    f, s, i = lay.fill(f={"gain": 2.0, "W": np.ones((3, 2))}, i={"n": 3})
    assert f.size == 7 and s.size == 3 and int(i[lay.I.out]) == -1
    assert np.array_equal(lay.view((f, s, i), "W"), np.ones((3, 2)))
    with pytest.raises(ValueError, match="missing name.*gain"):
        lay.fill(f={"W": np.ones((3, 2))}, i={"n": 3})
    with pytest.raises(ValueError, match="unknown name.*gian"):
        lay.fill(f={"gian": 2.0, "gain": 2.0, "W": np.ones((3, 2))}, i={"n": 3})
    with pytest.raises(ValueError, match="unknown name.*y"):
        lay.fill(f={"gain": 2.0, "W": np.ones((3, 2))}, s={"y": 1.0}, i={"n": 3})
    with pytest.raises(ValueError, match=r"W: shape \(2, 3\), declared \(3, 2\)"):
        lay.fill(f={"gain": 2.0, "W": np.ones((2, 3))}, i={"n": 3})
    with pytest.raises(ValueError, match="missing name.*n"):
        lay.fill(f={"gain": 2.0, "W": np.ones((3, 2))})
    with pytest.raises(ValueError, match="declared twice"):
        stage_layout("test_layout_probe")
    with pytest.raises(ValueError, match="not an i scalar"):
        StageLayout("bad", f="W[m]")


def _bare_indexing(module) -> list:
    """`f[3]`, `s[0]`, `i[-1]`, `s[2:n]`: f, s or i indexed by an integer literal in a function that
    takes all three (a step or one of its kernels), as 'module:line'."""
    tree = ast.parse(inspect.getsource(module))
    out = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef) or not {"f", "s", "i"} <= {a.arg for a in fn.args.args}:
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in "fsi":
                index = node.slice
                parts = [index.lower, index.upper] if isinstance(index, ast.Slice) else [index]
                for p in parts:
                    if isinstance(p, ast.UnaryOp):
                        p = p.operand
                    if isinstance(p, ast.Constant) and isinstance(p.value, int):
                        out.append(f"{module.__name__}:{node.lineno}")
    return out


def test_no_stage_indexes_its_arrays_by_a_bare_integer():
    modules = {step_module(spec.step) for _, spec in families.specs()}
    modules |= {sys.modules[m] for m in ("devices.serial.safety", "devices.serial.plant_base")}
    found = [hit for m in sorted(modules, key=lambda m: m.__name__) for hit in _bare_indexing(m)]
    assert not found, f"f/s/i indexed by position (name the slot in the LAYOUT): {found}"
