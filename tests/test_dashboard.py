"""The live operator page of a running session, in a real headless browser (Debian's chromium and
its chromedriver, through Selenium), against a real session started with `rtcore run --dashboard`.

One real-time curl-field session serves the page; the browser checks that:
- the status line's tick count increases, at >= 20 page updates a second;
- the plots receive new points (the hand state trace grows);
- pause holds the task (no trial starts while paused; the arm holds the centre) and resume goes on;
- next block starts the second block;
- a marker typed into the page is in session.xdf's marker stream;
- the stop button (confirmed) stops the session with stopped_by = the operator.
A screenshot goes into the test's output folder. Without chromium, chromedriver, selenium or bokeh
the test skips and says which is missing (.ci/run installs them).
Also: a wrong Host header and, on a non-loopback bind, a missing or wrong token are refused.
"""
import re
import time
import urllib.error
import urllib.request
import uuid

import pytest

from dashboard_browser import (CHROMIUM, DRIVER, MISSING_BROWSER, browser, count_updates, model, open_page, serve,
                               update_rate_hz, wait_for)
from enginecli import summary, write_config

selenium = pytest.importorskip("selenium", reason="the browser test needs selenium (pip install -e \".[test]\")")
pytest.importorskip("bokeh", reason="the dashboard needs bokeh (pip install -e \".[dashboard]\")")
needs_browser = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason=MISSING_BROWSER)

CONFIG = """
    [session]
    name = "{name}"
    duration_s = 120
    [plant]
    kind = "two_link_arm"
    [controller]
    kind = "endpoint_pd"
    [task]
    kind = "center_out"
    n_targets = 4
    hold_s = 0.1
    [[block]]
    name = "first"
    n_trials = 300
    [[block]]
    name = "second"
    n_trials = 300
"""


def start_session(tmp_path):
    """A real-time session with the page on; returns (process, URL) once the URL is printed."""
    path = write_config(tmp_path, CONFIG.format(name=f"dash-{uuid.uuid4().hex[:6]}"))
    return serve([path, "--out", tmp_path / "out", "--quiet", "--dashboard"])


def ticks(d) -> int:
    return int(re.search(r"id='ticks'>(\d+)<", model(d, "status", "m.text")).group(1))


def trial(d) -> int:
    return int(re.search(r"trial (-?\d+)", model(d, "status", "m.text")).group(1))


def click(d, name: str) -> None:
    """Click a Bokeh button by its model name, as a user does (the button is in its view's shadow root)."""
    button = d.execute_script(f"""
        const m = Bokeh.documents[0].get_model_by_name('{name}');
        return Bokeh.index.find_one(m).el.shadowRoot.querySelector('button');""")
    button.click()


@needs_browser
def test_the_page_shows_and_drives_a_running_session(tmp_path):
    p, url = start_session(tmp_path)
    d = None
    try:
        d = browser()
        open_page(d, url)
        count_updates(d)
        newest = "m.data.t.length ? m.data.t[m.data.t.length - 1] : -1"  # the plot keeps its last seconds
        t0, n0 = ticks(d), model(d, "trace:state", newest)
        time.sleep(3.0)
        rate = update_rate_hz(d)[1]
        assert ticks(d) > t0 + 1000, "the tick count does not increase"
        assert model(d, "trace:state", newest) > n0 + 1.0, "the state plot gets no new points"
        assert rate >= 20.0, f"{rate:.1f} page updates a second"

        click(d, "pause")
        wait_for(lambda: "task paused" in model(d, "status", "m.text"), 30, "the paused status")
        held = trial(d)
        time.sleep(3.0)  # three trials' time at least
        assert trial(d) == held, "a trial started while the task was paused"
        click(d, "pause")  # resume
        wait_for(lambda: trial(d) > held, 20, "a trial after resume")
        click(d, "next_block")
        wait_for(lambda: re.search(r"block 1 ", model(d, "status", "m.text")), 20, "the next block")
        first = trial(d)
        wait_for(lambda: trial(d) > first, 20, "a trial of the second block to finish")

        note = f"probe {uuid.uuid4().hex[:6]}"
        d.execute_script(f"Bokeh.documents[0].get_model_by_name('marker_text').value = '{note}'")
        click(d, "send_marker")
        time.sleep(1.5)  # the next flush writes it
        d.save_screenshot(str(tmp_path / "dashboard.png"))
        click(d, "stop")
        d.switch_to.alert.accept()
        p.wait(60)
    except AssertionError as e:
        raise AssertionError(f"{e}\nsession output:\n{''.join(p.lines)}") from None
    finally:
        if d is not None:
            d.quit()
        if p.poll() is None:
            p.kill()
            p.wait()
    s = summary(tmp_path / "out")
    assert s["stopped_by"] == "the operator (dashboard)" and s["verdict"] == "stopped", s["reasons"]
    import pyxdf
    streams, _ = pyxdf.load_xdf(str(tmp_path / "out" / "session.xdf"), dejitter_timestamps=False)
    texts = [x[0] for st in streams if st["info"]["name"][0] == "markers" for x in st["time_series"]]
    assert f"operator: {note}" in texts and "operator: pause" in texts and "operator: resume" in texts, texts
    assert {"paused", "resumed", "block_skipped"} <= set(texts), texts  # the task's own markers, at its tick
    s_task = s["task"]["trials"]
    assert 1 in s_task["block"], "no trial of the second block finished"
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000


def test_a_wrong_host_or_token_is_refused():
    from rtcore.dashboard import Dashboard

    def make(doc):
        from bokeh.models import Div
        doc.add_root(Div(text="ok"))

    local = Dashboard(make)
    try:
        assert _status(local.url) == 200
        assert _status(local.url, host="evil.example") == 403
    finally:
        local.close()
    open_ = Dashboard(make, host="0.0.0.0")
    try:
        base = f"http://127.0.0.1:{open_.port}/"
        assert open_.token and open_.url.endswith(f"?token={open_.token}")
        assert _status(base, host=f"0.0.0.0:{open_.port}") == 403  # no token
        assert _status(base + "?token=wrong", host=f"0.0.0.0:{open_.port}") == 403
        assert _status(base + f"?token={open_.token}", host=f"0.0.0.0:{open_.port}") == 200
    finally:
        open_.close()


def _status(url: str, host: str | None = None) -> int:
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
