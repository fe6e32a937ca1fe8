"""`rnn-tui serve`: the options it passes on, its page, and the app in a real headless Chromium.

The browser test drives Chromium over the DevTools protocol (a small client on aiohttp, which
textual-serve already needs). It reads the terminal's text from xterm.js's own buffer, types
through real key events, and saves a screenshot. Run this file as a script to do the same by hand:
    python tests/test_serve.py --screenshot /tmp/serve_screenshot.png
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib.util
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import ROOT

HAVE_SERVE = importlib.util.find_spec("textual_serve") is not None
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = os.environ.get("RNN_TUI_CHROMIUM") or next(
    filter(None, map(shutil.which, BROWSERS)), None
)
TYPED = "Beautiful is b"
# A row of the prediction chart: glyph, bar, percentage (see tests/test_tmux_smoke.py).
BAR_ROW = r"^ *\S+ +[█▉▊▋▌▍▎▏]+ +\d+\.\d+%"

needs_serve = pytest.mark.skipif(
    not HAVE_SERVE, reason="textual-serve is not installed (pip install 'rnn-tui[web]')"
)


# -- without a browser ---------------------------------------------------------------------
def test_missing_textual_serve_is_one_error_line(monkeypatch, capsys):
    from rnn_tui.cli.main import main

    monkeypatch.setitem(sys.modules, "textual_serve", None)  # import fails as if not installed
    monkeypatch.setitem(sys.modules, "textual_serve.server", None)
    assert main(["serve", "--port", "8123"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "pip install 'rnn-tui[web]'" in err


def test_app_options_are_passed_on_to_each_app_process():
    import shlex

    from rnn_tui.cli.main import make_parser
    from rnn_tui.cli.serve import app_command

    parser = make_parser()
    given = [
        "--corpus",
        "abcde",
        "--cell",
        "gru",
        "--hidden",
        "16",
        "--onehot",
        "--lr",
        "0.003",
        "--load",
        "my model.npz",
    ]
    args = parser.parse_args(["serve", "--host", "127.0.0.1", "--port", "8001", *given])
    words = shlex.split(app_command(args).split("exec ", 1)[1])
    assert words[:4] == [sys.executable, "-m", "rnn_tui", "app"]
    assert not any(w.startswith(("--host", "--port")) for w in words)
    direct, forwarded = parser.parse_args(["app", *given]), parser.parse_args(words[3:])
    assert vars(forwarded) == vars(direct)
    bare = parser.parse_args(["serve"])
    assert (bare.host, bare.port) == ("127.0.0.1", 8000)
    assert shlex.split(app_command(bare).split("exec ", 1)[1])[3:] == ["app"]


@needs_serve
def test_page_fetches_nothing_from_other_hosts():
    import textual_serve.server

    from rnn_tui.cli.serve import TEMPLATE, page_template

    upstream = (Path(textual_serve.server.__file__).parent / "templates" / TEMPLATE).read_text()
    page = page_template(upstream)
    external = re.compile(
        r"""\b(?:src|href)\s*=\s*["']?(?:https?:)?//|@import|url\(\s*["']?(?:https?:)?//"""
    )
    assert not external.search(page), external.search(page)
    assert "fonts.googleapis.com" not in page
    assert 'src: url("static/fonts/RobotoMono-VariableFont_wght.ttf")' in page
    assert "{{ config.static.url }}" not in page and "<title>" in page


@needs_serve
def test_options_that_fail_in_every_tab_fail_before_serving(capsys):
    from rnn_tui.cli.main import main

    assert main(["serve", "--port", "8123", "--corpus", "no-such-corpus.txt"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-corpus.txt" in err, err


@needs_serve
def test_port_in_use_is_one_error_line():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "rnn_tui", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
    assert proc.returncode == 2, proc
    assert (
        proc.stderr
        == f"error: cannot serve on 127.0.0.1:{port}: port {port} is in use: choose another with --port\n"
    )


# -- in a browser --------------------------------------------------------------------------
@pytest.mark.skipif(
    not HAVE_SERVE, reason="textual-serve is not installed (pip install 'rnn-tui[web]')"
)
@pytest.mark.skipif(BROWSER is None, reason="no Chromium to drive (apt-get install chromium)")
def test_browser_page_paints_and_predicts(tmp_path, record_property):
    shot = tmp_path / "serve.png"
    report = asyncio.run(browser_session(shot, tmp_path))
    extra = os.environ.get("RNN_TUI_SERVE_SCREENSHOT")  # e.g. CI keeps the picture and the timings
    if extra:
        shutil.copyfile(shot, extra)
        Path(extra).with_suffix(".json").write_text(
            json.dumps(report, indent=2, ensure_ascii=False)
        )
    for key in (
        "websocket_open_ms",
        "first_text_ms",
        "first_frame_ms",
        "first_chart_ms",
        "typed_to_chart_ms",
    ):
        record_property(key, report[key])
    print(json.dumps({k: v for k, v in report.items() if k not in ("before", "after")}, indent=2))

    assert report["first_frame_ms"] < 20_000
    assert report["font_loaded"], "the page's Roboto Mono did not load from the server"
    assert not report["exceptions"], report["exceptions"]
    assert not report["offsite"], f"the page fetched from other hosts: {report['offsite']}"
    assert not report["absolute_urls"], report[
        "absolute_urls"
    ]  # works through a tunnel on any port
    assert TYPED in report["after"], report["after"]
    assert report["chart_before"] != report["chart_after"], report["after"]
    assert len(report["chart_after"]) >= 5, report["after"]
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["apps_with_two_tabs"] == 2  # one app process a tab
    assert report["app_argv"] == [sys.executable, "-m", "rnn_tui", "app"]  # this interpreter
    assert report["apps_after_closing_one"] == 1
    assert report["server_exit"] == 0 and report["server_stop_s"] < 15, report
    assert report["processes_left"] == 0  # no app outlives the server
    assert not report["server_log_problems"], report["server_log_problems"]


# The page's terminal is not a global: catch the object that owns it when textual.js assigns its
# `fitAddon`, then watch its renders. Times are ms from navigation start (performance.now()).
HOOK = r"""
(() => {
  const bar = new RegExp(%(bar)s, "m");
  const probe = window.__rnn = {terminal: null, firstRender: null, firstFrame: null, firstChart: null};
  const screen = (t) => {
    const b = t.buffer.active, rows = [];
    for (let y = 0; y < t.rows; y++) {
      const line = b.getLine(b.viewportY + y);
      rows.push(line ? line.translateToString(true) : "");
    }
    return rows.join("\n");
  };
  window.__rnnScreen = () => probe.terminal ? screen(probe.terminal) : null;
  Object.defineProperty(Object.prototype, "fitAddon", {
    configurable: true,
    set(value) {
      Object.defineProperty(this, "fitAddon", {value, writable: true, configurable: true, enumerable: true});
      const t = this.terminal;
      if (!t || !t.buffer || probe.terminal) return;
      probe.terminal = t;
      t.onRender(() => {
        const now = performance.now();
        if (probe.firstChart !== null) return;
        const text = screen(t);
        if (probe.firstRender === null && text.trim()) probe.firstRender = now;
        // a frame: the screen's first and last rows both painted (Textual draws whole screens)
        const rows = text.split("\n");
        if (probe.firstFrame === null && rows[0].trim() && rows[rows.length - 1].trim()) probe.firstFrame = now;
        if (bar.test(text)) probe.firstChart = now;
      });
    },
  });
})();
"""


class Cdp:
    """A Chrome DevTools protocol connection to one page: commands, and the events seen."""

    def __init__(self, ws) -> None:
        self.ws, self.ids, self.pending, self.events = ws, itertools.count(1), {}, []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data:
                future = self.pending.pop(data["id"], None)
                if future and not future.done():
                    future.set_result(data)
            else:
                self.events.append(data)

    async def send(self, method: str, **params):
        msg_id = next(self.ids)
        future = self.pending[msg_id] = asyncio.get_running_loop().create_future()
        await self.ws.send_str(json.dumps({"id": msg_id, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, 20)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    async def eval(self, expression: str):
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_for(test, what: str, timeout: float, interval: float = 0.05):
    """Poll `test` (a function, or one returning an awaitable) until it returns something true."""
    end = time.monotonic() + timeout
    while True:
        value = test()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"no {what} after {timeout:g} s")
        await asyncio.sleep(interval)


async def port_open(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True


def stop_group(proc: subprocess.Popen, sig: int, timeout: float) -> None:
    """Signal a process started in its own session, then end its whole group."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(5)


def group_processes(pgid: int) -> list[list[str]]:
    """The command lines of the live processes in a process group (from /proc)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append((proc / "cmdline").read_bytes().decode().split("\0")[:-1])
    return found


def app_processes(pgid: int) -> list[list[str]]:
    return [argv for argv in group_processes(pgid) if argv[1:4] == ["-m", "rnn_tui", "app"]]


async def browser_session(shot: Path, tmp: Path, width: int = 1280, height: int = 860) -> dict:
    """Serve the app, open it in headless Chromium, type, and report what was seen and when."""
    import aiohttp

    port = free_port()
    origin = f"127.0.0.1:{port}"
    server_log = open(tmp / "server.log", "w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rnn_tui",
            "serve",
            "--port",
            str(port),
            "--no-token",
            "--max-sessions",
            "3",
        ],
        cwd=ROOT,  # (the page fetched alone below holds a place too)
        stdin=subprocess.DEVNULL,
        stdout=server_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    profile = tmp / "chromium-profile"
    browser = subprocess.Popen(
        [
            BROWSER,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--mute-audio",
            "--hide-scrollbars",
            f"--window-size={width},{height}",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "chromium.log", "w"),
        start_new_session=True,
    )
    try:
        active = profile / "DevToolsActivePort"
        devtools = await wait_for(
            lambda: active.exists() and active.read_text().split(), "Chromium DevTools port", 30
        )
        await wait_for(lambda: port_open(port), f"server on port {port}", 30)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{devtools[0]}/json/list") as r:
                page = next(t for t in await r.json() if t["type"] == "page")
            async with http.get(f"http://{origin}/") as r:  # the page as served: no absolute URLs
                html = await r.text()
            absolute = re.findall(r"""\b(?:src|href|url)\s*[=(]\s*["']?[a-z]*:?//[^"'\s>]*""", html)
            async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                cdp = Cdp(ws)
                report = await drive_page(cdp, f"http://{origin}/", shot)
                report["absolute_urls"] = absolute
                # a second tab gets a second app process; closing the first ends the first app
                apps = lambda: len(app_processes(server.pid))  # noqa: E731
                async with http.put(f"http://127.0.0.1:{devtools[0]}/json/new?http://{origin}/"):
                    pass
                with contextlib.suppress(AssertionError):
                    await wait_for(lambda: apps() >= 2, "a second app process", 20)
                report["apps_with_two_tabs"] = apps()
                report["app_argv"] = app_processes(server.pid)[0]
                await cdp.send("Page.close")
        with contextlib.suppress(AssertionError):
            await wait_for(lambda: apps() <= 1, "app exit after its tab closed", 10)
        report["apps_after_closing_one"] = apps()
        # Ctrl+C in a terminal, a tab still open: SIGINT to the whole process group, apps too;
        # the server ends that tab's app itself and exits promptly and quietly
        os.killpg(server.pid, signal.SIGINT)
        t_stop = time.monotonic()
        with contextlib.suppress(AssertionError):
            await wait_for(lambda: server.poll() is not None, "server exit on SIGINT", 20)
        report["server_stop_s"] = round(time.monotonic() - t_stop, 2)
        report["server_exit"] = server.poll()
        with contextlib.suppress(
            AssertionError
        ):  # the apps end on the same SIGINT, maybe a moment later
            await wait_for(lambda: not group_processes(server.pid), "the apps' exit", 20)
        report["processes_left"] = len(group_processes(server.pid))
        report["server_log_problems"] = [
            line
            for line in (tmp / "server.log").read_text().splitlines()
            if re.search(r"Traceback|Error|interrupted|failed", line)
        ]
        report["offsite"] = [
            u
            for u in report.pop("urls")
            if not u.split("//", 1)[-1].startswith(origin) and not u.startswith(("data:", "blob:"))
        ]
        return report
    finally:
        stop_group(browser, signal.SIGTERM, 5)
        stop_group(server, signal.SIGINT, 10)
        server_log.close()


async def drive_page(cdp: Cdp, url: str, shot: Path) -> dict:
    await cdp.send("Page.enable")
    await cdp.send("Runtime.enable")
    await cdp.send("Network.enable")
    await cdp.send(
        "Page.addScriptToEvaluateOnNewDocument", source=HOOK % {"bar": json.dumps(BAR_ROW)}
    )
    t0 = time.monotonic()
    await cdp.send("Page.navigate", url=url)
    await wait_for(
        lambda: cdp.eval("!!(window.__rnn && __rnn.terminal)"),
        "xterm.js terminal caught by HOOK (has textual.js stopped setting .fitAddon?)",
        15,
    )
    await wait_for(
        lambda: cdp.eval("window.__rnn && window.__rnn.firstChart"), "prediction chart painted", 30
    )
    paint_wall = time.monotonic() - t0
    probe = await cdp.eval(
        "window.__rnn && {r: __rnn.firstRender, f: __rnn.firstFrame, c: __rnn.firstChart}"
    )
    nav = await cdp.eval("performance.getEntriesByType('navigation')[0].toJSON()")
    before = await cdp.eval("__rnnScreen()")

    await cdp.eval("__rnn.terminal.focus()")
    t_type = time.monotonic()
    for ch in TYPED:  # real key events, as a person types them
        await cdp.send("Input.dispatchKeyEvent", type="keyDown", key=ch, text=ch, unmodifiedText=ch)
        await cdp.send("Input.dispatchKeyEvent", type="keyUp", key=ch)
        await asyncio.sleep(0.03)

    async def typed():
        screen = await cdp.eval("__rnnScreen()")
        return (
            screen if TYPED in screen and chart(screen) and chart(screen) != chart(before) else None
        )

    after = await wait_for(typed, "typed text and new predictions", 15)
    typed_ms = (time.monotonic() - t_type) * 1000
    await asyncio.sleep(0.3)  # let the last frame and the fade-in settle for the picture
    png = await cdp.send("Page.captureScreenshot", format="png")
    shot.write_bytes(base64.b64decode(png["data"]))
    font = await cdp.eval(
        "document.fonts.ready.then(() => document.fonts.check('16px \"Roboto Mono\"') "
        "&& [...document.fonts].some(f => f.family.includes('Roboto Mono') && f.status === 'loaded'))"
    )
    events = cdp.events
    urls = [
        e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"
    ]
    urls += [e["params"]["url"] for e in events if e["method"] == "Network.webSocketCreated"]
    return {
        "websocket_open_ms": websocket_open_ms(events, url),
        "first_text_ms": round(probe["r"]) if probe["r"] else None,
        "first_frame_ms": round(probe["f"] or probe["c"]),
        "first_chart_ms": round(probe["c"]),
        "first_chart_wall_ms": round(paint_wall * 1000),
        "dom_content_loaded_ms": round(nav["domContentLoadedEventEnd"]),
        "load_event_ms": round(nav["loadEventEnd"]),
        "typed_to_chart_ms": round(typed_ms),
        "font_loaded": font,
        "exceptions": [
            e["params"]["exceptionDetails"].get("text")
            for e in events
            if e["method"] == "Runtime.exceptionThrown"
        ],
        "urls": urls,
        "before": before,
        "after": after,
        "chart_before": chart(before),
        "chart_after": chart(after),
        "screenshot": str(shot),
    }


def websocket_open_ms(events: list[dict], url: str) -> int | None:
    """From the page's request to the app's websocket handshake, by DevTools' own clock."""
    stamps = {}
    for e in events:
        p = e["params"]
        if e["method"] == "Network.requestWillBeSent" and p["request"]["url"] == url:
            stamps.setdefault("page", p["timestamp"])
        elif e["method"] == "Network.webSocketHandshakeResponseReceived":
            stamps.setdefault("ws", p["timestamp"])
    return round((stamps["ws"] - stamps["page"]) * 1000) if len(stamps) == 2 else None


def chart(screen: str | None) -> list[str]:
    return [m.group(0).strip() for m in re.finditer(BAR_ROW, screen or "", re.M)]


if __name__ == "__main__":
    import argparse

    cli = argparse.ArgumentParser(
        description="Open `rnn-tui serve` in headless Chromium and time it."
    )
    cli.add_argument("--screenshot", default="/tmp/serve_screenshot.png")
    opts = cli.parse_args()
    if BROWSER is None or not HAVE_SERVE:
        sys.exit("needs Chromium and textual-serve")
    with tempfile.TemporaryDirectory() as work:
        start = time.monotonic()
        result = asyncio.run(browser_session(Path(opts.screenshot), Path(work)))
        result["session_s"] = round(time.monotonic() - start, 1)
    print(result.pop("after"))
    result.pop("before")
    print(json.dumps(result, indent=2, ensure_ascii=False))
