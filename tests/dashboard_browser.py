"""The operator page of a running session in a real headless browser: Debian's chromium and its
chromedriver, through Selenium (no browser download). Used by tests/test_dashboard.py and
benchmarks/dashboard_overhead.py.

- serve(args): start `rtcore run ... --dashboard` and wait for the page's URL;
- browser(): a headless chromium;
- open_page(d, url): load the page until its Bokeh document is there;
- count_updates(d) / update_rate_hz(d): count the page's status updates, and their rate.
"""
import re
import shutil
import subprocess
import threading
import time

from enginecli import RTCORE

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
MISSING_BROWSER = "no chromium/chromedriver (apt install chromium chromium-driver)"


def serve(args: list, timeout_s: float = 900.0) -> tuple:
    """Start `rtcore run ARGS` (they include --dashboard); returns (process, URL) once the URL is
    printed (the first run compiles the tick: hence the long timeout). The process's later output is
    read on a thread into p.lines: an unread pipe fills and blocks the session."""
    p = subprocess.Popen(RTCORE + ["run", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    end = time.monotonic() + timeout_s
    lines = []
    while time.monotonic() < end:
        line = p.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"dashboard: (http://\S+)", line)
        if m:
            p.lines = lines
            threading.Thread(target=lambda: lines.extend(p.stdout), daemon=True).start()
            return p, m.group(1)
    p.kill()
    p.wait()
    raise AssertionError("no dashboard URL printed:\n" + "".join(lines))


def browser():
    """A headless chromium (quit() it)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    o = Options()
    o.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1000,1800"):
        o.add_argument(a)
    d = webdriver.Chrome(service=Service(DRIVER), options=o)
    d.set_page_load_timeout(120)
    d.set_script_timeout(120)  # a loaded CI machine
    return d


def model(d, name: str, expr: str):
    """`expr` evaluated in the page with m = the Bokeh model named `name`."""
    return d.execute_script(f"const m = Bokeh.documents[0].get_model_by_name('{name}'); return {expr};")


def wait_for(fn, timeout=30.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def open_page(d, url: str) -> None:
    """Load the operator page until its status line exists."""
    d.get(url)
    wait_for(lambda: d.execute_script("return !!(window.Bokeh && Bokeh.documents.length && "
                                      "Bokeh.documents[0].get_model_by_name('status'))"), 60, "the page")


def count_updates(d) -> None:
    """From now on, count the page's updates (each one rewrites the status line) in the page itself,
    with the time of the first and the latest (ms, performance.now())."""
    d.execute_script("""const m = Bokeh.documents[0].get_model_by_name('status');
                        window.__updates = 0; window.__first_ms = window.__last_ms = null;
                        m.properties.text.change.connect(() => {
                            window.__updates += 1; window.__last_ms = performance.now();
                            if (window.__first_ms === null) { window.__first_ms = window.__last_ms; } });""")


def update_rate_hz(d) -> tuple:
    """(updates counted, their rate in updates a second between the first and the latest; nan if < 2)."""
    n, first, last = d.execute_script("return [window.__updates, window.__first_ms, window.__last_ms]")
    return n, (n - 1) / ((last - first) / 1000.0) if n > 1 and last > first else float("nan")
