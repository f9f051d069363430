"""A decoder adapted by CLDA on day 1 starts day 2 at its day-1 performance.

Day 1: the closed-loop BCI rig (tests/bci_task.py: synthetic neural user, Kalman decoder, cursor,
center-out-and-back) starts from a poor decoder and adapts it with RML CLDA; its learned state is
saved (rtcore.checkpoint.save). Day 2, 24 h later, the same person (part "source": tuning, lost
units, generator) comes back: resumed with the day-1 decoder (part "decoder") it succeeds at once;
with the poor decoder again (from scratch) it starts near zero and needs CLDA's first batches. Across a between-session tuning
drift (synthetic user's session_drift_rad) the resumed decoder recovers faster than from scratch.
Then, through `rtcore run --fast`: a resumed BCI session is replayed exactly (`rtcore replay`), and a
decoder for 96 units refuses to resume one of 64 with one line naming the part."""
import json
import uuid

import pytest

import bci_task as h
from enginecli import run_cli, summary, toml, write_config
from rtcore import checkpoint
from rtcore.decoders import kalman_fit
from rtcore.decoders.clda import CLDAConfig

CLDA = CLDAConfig(method="smoothbatch", batch_s=10.0, half_life_s=60.0)
DAY1_S = 240.0
MINUTE = 60.0


def poor_decoder(n_units=64):
    return kalman_fit.random_decoder(n_units, h.BIN_S, seed=11, prior_bins=300)


def day2(tmp_path, where, parts, seconds, user=None, clda=CLDA):
    """Day 2 on the rig from the poor decoder, with `parts` of the day-1 checkpoint loaded after 24 h."""
    sim = h.Sim(poor_decoder(), tmp=tmp_path, clda=clda, user=user)
    resumed = checkpoint.load_into(sim.sess.pipeline, where, parts=parts, break_h=24.0)
    assert resumed["parts"] == parts
    return sim.run(seconds)[1]


@pytest.fixture(scope="module")
def day1(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bci")
    sim = h.Sim(poor_decoder(), tmp=tmp, clda=CLDA)
    _, ev = sim.run(DAY1_S)
    checkpoint.save(sim.sess.pipeline, str(tmp / "day1"), ticks=sim.sess.tick)
    return tmp / "day1", ev


def test_resumed_decoder_starts_day2_at_its_day1_performance(day1, tmp_path):
    where, ev1 = day1
    last = h.success_per_min(ev1, DAY1_S - MINUTE, DAY1_S)
    resumed = h.success_per_min(day2(tmp_path, where, ["decoder", "source"], MINUTE), 0, MINUTE)
    scratch = day2(tmp_path, where, ["source"], MINUTE)
    seed_only = h.success_per_min(day2(tmp_path, where, ["source"], MINUTE, clda=None), 0, MINUTE)
    print(f"\nsuccesses/min: day 1 first {h.success_per_min(ev1, 0, MINUTE):.0f}, last {last:.0f}; day 2 first "
          f"minute: resumed {resumed:.0f}, from scratch {h.success_per_min(scratch, 0, MINUTE):.0f} "
          f"(first 10 s {h.success_per_min(scratch, 0, 10):.0f}), seed decoder without CLDA {seed_only:.0f}")
    assert last >= 45.0  # CLDA reached a working decoder on day 1
    assert resumed >= 0.8 * last
    assert seed_only <= 0.1 * last  # where day 2 starts from scratch: near zero
    assert h.success_per_min(scratch, 0, 10) <= 0.25 * last  # CLDA from scratch needs its first batches
    assert h.success_per_min(scratch, 0, MINUTE) <= 0.75 * resumed


def test_resumed_decoder_recovers_faster_across_tuning_drift(day1, tmp_path):
    where, _ev1 = day1
    user = {"session_drift_rad": 0.6}  # preferred directions move by N(0, 0.6 rad) over the 24 h break
    seconds = 2 * MINUTE
    resumed = day2(tmp_path, where, ["decoder", "source"], seconds, user)
    scratch = day2(tmp_path, where, ["source"], seconds, user)
    rate = {k: [h.success_per_min(ev, a, a + 30) for a in range(0, int(seconds), 30)]
            for k, ev in (("resumed", resumed), ("scratch", scratch))}
    print(f"\nafter drift, successes/min per 30 s: resumed {rate['resumed']}, scratch {rate['scratch']}")
    assert rate["resumed"][0] >= 2.0 * rate["scratch"][0]
    assert h.success_per_min(resumed, 0, seconds) > h.success_per_min(scratch, 0, seconds)


BCI = toml("""
[session]
name = "{name}"
duration_s = 8

[source]
kind = "synthetic_neural"
n_units = {units}
bin_s = 0.05

[decoder]
kind = "kalman"
decoder_file = "{decoder}"
bin_s = 0.05
clda = {{ method = "rml" }}
""", h.cursor_task(200))


@pytest.fixture(scope="module")
def bci_runs(tmp_path_factory):
    """A BCI session through `rtcore run --fast`, and a second one resumed from it."""
    tmp = tmp_path_factory.mktemp("bci_cli")
    tag = uuid.uuid4().hex[:8]
    decoder = kalman_fit.save_kalman(f"{tmp}/seed_decoder", poor_decoder())
    cfg = write_config(tmp, BCI.format(name=f"bci-{tag}", units=64, decoder=decoder))
    for name, extra in (("day1", []), ("day2", ["--resume", str(tmp / "day1"), "--set", "resume.break_h=24"])):
        r = run_cli("run", cfg, "--fast", "--quiet", "--out", tmp / name, *extra)
        assert r.returncode == 0, r.stdout + r.stderr  # --fast: backpressure, no row dropped, no deadline
    return tmp, cfg


def test_replay_of_a_resumed_session_reproduces_it_exactly(bci_runs):
    tmp, _ = bci_runs
    s = summary(tmp / "day2")
    assert s["resumed"]["parts"] == ["source", "decoder"] and s["resumed"]["break_h"] == 24
    assert (tmp / "day2" / "resume_source.npz").exists()  # the state it loaded, beside the recording
    r = run_cli("replay", tmp / "day2")
    assert r.returncode == 0, r.stdout + r.stderr
    diffs = json.loads((tmp / "day2" / "replay" / "summary.json").read_text())["replay_max_abs_diff"]
    assert diffs["intent"] == 0.0 and diffs["state"] == 0.0, diffs
    # the replay loaded the same decoder state (its source is the recording, so that part is not resumed)
    assert summary(tmp / "day2" / "replay")["resumed"]["parts"] == ["decoder"]


def test_incompatible_channel_count_names_the_part(bci_runs):
    tmp, _ = bci_runs
    decoder = kalman_fit.save_kalman(f"{tmp}/decoder96", poor_decoder(96))
    cfg = write_config(tmp, BCI.format(name=f"bci96-{uuid.uuid4().hex[:8]}", units=96, decoder=decoder), "bci96.toml")
    r = run_cli("run", cfg, "--fast", "--quiet", "--out", tmp / "bad", "--resume", tmp / "day1",
                "--resume-parts", "decoder")
    assert r.returncode == 1
    line = next(ln for ln in r.stdout.splitlines() if "resume:" in ln)
    assert "part 'decoder' does not fit" in line and "(64, 5)" in line and "(96, 5)" in line, line
    assert "Traceback" not in r.stdout + r.stderr
