"""`rnn-tui serve --public` against a visitor who writes their own client: what the gate passes on
from a websocket (resizes held to the URL's sizes, keys to a person's pace, pastes cut, garbage
ending the session with one log line), an upload cut short, the secrets kept out of the log in
every spelling aiohttp accepts, and the places pages hold without a websocket.

Most tests run the gate in this process with a stand-in app, a few lines of Python that write down
every packet textual-serve sends it: what the gate forwards is read from there."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import os
import re
import shlex
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("textual_serve") is None,
    reason="textual-serve is not installed (pip install 'rnn-tui[web]')",
)

TOKEN = "test-token-0123456789"
WS_PATH = re.compile(r'new URL\("(ws/[A-Za-z0-9_-]+)"')

# The stand-in app: textual-serve's prelude, then each packet it is sent as a JSON line (meta
# decoded), until it is told to quit.
FAKE_APP = r"""
import json, os, sys
out = open(sys.argv[1], "a", encoding="utf-8")
out.write(json.dumps({"size": [os.environ["COLUMNS"], os.environ["ROWS"]]}) + "\n")
out.flush()
sys.stdout.write("__GANGLION__\n")
sys.stdout.flush()
while len(head := sys.stdin.buffer.read(5)) == 5:
    body = sys.stdin.buffer.read(int.from_bytes(head[1:], "big"))
    meta = json.loads(body) if head[:1] == b"M" else None
    line = {"meta": meta} if meta is not None else {"keys": body.decode("utf-8", "replace")}
    out.write(json.dumps(line) + "\n")
    out.flush()
    if meta is not None and meta.get("type") == "quit":
        break
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    def __init__(self, gate, base: str, record: Path) -> None:
        self.gate, self.base, self.record = gate, base, record

    def received(self) -> list[dict]:
        """What the stand-in apps were sent, in order (their first line, the size, left out)."""
        if not self.record.exists():
            return []
        lines = [json.loads(line) for line in self.record.read_text().splitlines()]
        return [line for line in lines if "size" not in line]

    def resizes(self) -> list[tuple[int, int]]:
        return [
            (m["width"], m["height"])
            for line in self.received()
            if (m := line.get("meta")) and m.get("type") == "resize"
        ]

    def keys(self) -> list[str]:
        return [line["keys"] for line in self.received() if "keys" in line]

    async def session(self, http, query: str = "width=80&height=24"):
        """A websocket with a session behind it, once its app has started."""
        ticket = self.gate.reserve("192.0.2.1")
        ws = await http.ws_connect(f"{self.base}/ws/{ticket}?{query}")
        end = time.monotonic() + 20
        while not self.record.exists() or not self.record.read_text():
            assert time.monotonic() < end, "the stand-in app did not start"
            await asyncio.sleep(0.02)
        return ws

    async def ended(self) -> None:
        """Every session over, its app told to quit (and so every packet it got written down)."""
        end = time.monotonic() + 20
        while self.gate.sessions:
            assert time.monotonic() < end, "a session did not end"
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def gate_server(tmp_path: Path, max_sessions: int = 2, upload: bool = False):
    from aiohttp import web
    from textual_serve.download_manager import DownloadManager

    from rnn_tui.app.public import PublicPolicy
    from rnn_tui.cli import serve_gate

    gate = serve_gate.Gate(TOKEN, max_sessions, 600, PublicPolicy.with_corpora([]), upload)
    record = tmp_path / "received.jsonl"

    class Routes(serve_gate.GateRoutes):
        def __init__(self) -> None:
            self.gate = gate
            self.command = shlex.join([sys.executable, "-c", FAKE_APP, str(record)])
            self.download_manager = DownloadManager()

        async def index(self, request):
            ticket, refusal = await self.gate_index(request)
            return refusal or web.Response(text=f'new URL("ws/{ticket}")')

    routes = Routes()
    app = web.Application()
    app.router.add_get("/", routes.index)
    routes.add_gate_routes(app)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield Served(gate, f"http://127.0.0.1:{port}", record)
    finally:
        await runner.cleanup()
        gate.close()


async def closed(ws, timeout: float = 20) -> int | None:
    """Wait for the server to close the websocket: its close code."""
    import aiohttp

    end = time.monotonic() + timeout
    while True:
        msg = await asyncio.wait_for(ws.receive(), max(0.1, end - time.monotonic()))
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            return ws.close_code


def warnings_of(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "rnn_tui.serve"]


# -- 1, 2: resizes and frames the page never sends -------------------------------------------
def test_a_resize_is_held_to_the_sizes_a_url_may_ask(tmp_path):
    import aiohttp

    async def visit(served):
        async with aiohttp.ClientSession() as http:
            ws = await served.session(http, "width=100000&height=3")
            for width, height in ((100000, 100000), (3, -5), (120, 40), (2**70, 0)):
                await ws.send_json(["resize", {"width": width, "height": height}])
            await ws.close()
        await served.ended()

    async def main():
        async with gate_server(tmp_path) as served:
            await visit(served)
            first = json.loads(served.record.read_text().splitlines()[0])
            return first["size"], served.resizes()

    size, resizes = asyncio.run(main())
    assert size == ["500", "10"]  # the URL's, as before
    assert resizes == [(500, 500), (10, 10), (120, 40), (500, 10)]


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        ('["resize",{"width":"x","height":-5}]', "a resize without two whole numbers"),
        ('["resize",{"width":80}]', "a resize without two whole numbers"),
        ('["resize",{"width":80.5,"height":24}]', "a resize without two whole numbers"),
        ('["resize",{"width":true,"height":24}]', "a resize without two whole numbers"),
        ('["resize",[80,24]]', "a resize without two whole numbers"),
        ('["stdin",5]', "keys (stdin) that are not text"),
        ('["ping","' + "x" * 1000 + '"]', "a ping that is not a short text"),
        ('{"stdin":"a"}', "not [kind, data]"),
        ("[]", "not [kind, data]"),
        ("not json", "not JSON"),
        ("[" * 100000, "not JSON"),
        (b"\x00binary", "a binary websocket frame"),
    ],
)
def test_a_frame_the_page_never_sends_ends_the_session_with_one_log_line(
    tmp_path, caplog, frame, why
):
    import aiohttp

    async def main():
        async with gate_server(tmp_path) as served:
            async with aiohttp.ClientSession() as http:
                ws = await served.session(http)
                await (ws.send_bytes(frame) if isinstance(frame, bytes) else ws.send_str(frame))
                code = await closed(ws)
            await served.ended()
            return code, served.received()

    code, received = asyncio.run(main())
    assert code is not None
    assert [line["meta"]["type"] for line in received] == ["quit"]  # nothing but the goodbye
    lines = warnings_of(caplog)
    assert len(lines) == 1 and why in lines[0].getMessage(), caplog.text
    assert lines[0].getMessage().startswith("session of 127.0.0.1 ended: ")
    assert not any(r.exc_info for r in caplog.records), caplog.text  # one line, no traceback


def test_the_page_s_own_frames_pass():
    from rnn_tui.cli.serve_gate import read_frame

    assert read_frame('["stdin","a"]') == ("stdin", "a")
    assert read_frame('["resize",{"width":80,"height":24}]') == ("resize", (80, 24))
    assert read_frame('["ping","1732981234567"]') == ("ping", "1732981234567")
    assert read_frame('["focus"]') == ("focus", None) and read_frame('["blur"]') == ("blur", None)
    assert read_frame('["something-new",1]') == ("", None)  # ignored, as textual-serve does


# -- 3: keys at a person's pace, pastes cut ---------------------------------------------------
def test_a_frame_of_600_kb_of_keys_is_dropped_and_the_session_goes_on(tmp_path, caplog):
    import aiohttp

    async def main():
        async with gate_server(tmp_path) as served:
            async with aiohttp.ClientSession() as http:
                ws = await served.session(http)
                await ws.send_json(["stdin", "hello world " * 50000])
                await ws.send_json(["stdin", "hello world " * 400])  # 4800 characters: too
                await ws.send_json(["stdin", "a"])
                await ws.send_json(["stdin", "\x1b[A"])
                end = time.monotonic() + 20
                while len(served.keys()) < 2:
                    assert time.monotonic() < end, served.received()
                    await asyncio.sleep(0.02)
                assert not ws.closed
                await ws.close()
            await served.ended()
            return served.keys()

    assert asyncio.run(main()) == ["a", "\x1b[A"]
    lines = warnings_of(caplog)
    assert len(lines) == 1 and "beyond what a person types" in lines[0].getMessage()


def test_keys_beyond_the_budget_are_dropped(tmp_path, monkeypatch, caplog):
    import aiohttp

    from rnn_tui.cli import serve_gate

    monkeypatch.setattr(serve_gate, "EVENTS_PER_SECOND", 0)  # no refill: the count is exact

    async def main():
        async with gate_server(tmp_path) as served:
            async with aiohttp.ClientSession() as http:
                ws = await served.session(http)
                for _ in range(serve_gate.EVENT_BURST + 100):
                    await ws.send_json(["stdin", "k"])
                await ws.send_json(["ping", "after"])  # answered: the session goes on
                while (msg := await ws.receive()).type != aiohttp.WSMsgType.TEXT:
                    pass
                assert json.loads(msg.data) == ["pong", "after"]
                await ws.close()
            await served.ended()
            return served.keys()

    keys = asyncio.run(main())
    assert keys == ["k"] * serve_gate.EVENT_BURST
    assert len(warnings_of(caplog)) == 1


def test_the_input_budget_refills_at_a_person_s_pace():
    from rnn_tui.cli.serve_gate import EVENT_BURST, EVENTS_PER_SECOND, InputBudget

    now = [100.0]
    budget = InputBudget(clock=lambda: now[0])
    assert budget.take(EVENT_BURST) and not budget.take(1)
    now[0] += 1.0
    assert budget.take(EVENTS_PER_SECOND) and not budget.take(1)
    now[0] += 3600.0  # a long pause refills to the burst, no more
    assert not budget.take(EVENT_BURST + 1) and budget.take(EVENT_BURST)


def test_what_keys_cost():
    from rnn_tui.cli.serve_gate import RAW_INPUT_CHARS, keys_to_send

    assert keys_to_send("a") == ("a", 1)
    assert keys_to_send("\x1b[<35;120;40M") == ("\x1b[<35;120;40M", 1)  # a mouse report
    assert keys_to_send("\x1b[1;5A\x1bOP") == ("\x1b[1;5A\x1bOP", 2)  # ctrl+up, F1
    assert keys_to_send("日本語") == ("日本語", 3)  # an input method's word
    assert keys_to_send("x" * (RAW_INPUT_CHARS + 1)) is None


def test_a_paste_of_hundreds_of_kb_arrives_as_one_paste_cut_to_its_end(tmp_path):
    import aiohttp

    from rnn_tui.app.widgets.prompt import MAX_TEXT
    from rnn_tui.cli.serve_gate import PASTE_CHARS, PASTE_END, PASTE_START

    # The prompt reads at most the last 4 * MAX_TEXT characters of a paste: the cut loses nothing.
    assert PASTE_CHARS >= 4 * MAX_TEXT
    text = "".join(f"line {i} of a long paste\r" for i in range(12000))  # ~300 KB
    smuggled = "\x1b[201~" + "keys after the paste " * 10 + "\x1b[200~"  # its own end, inside

    async def main():
        async with gate_server(tmp_path) as served:
            async with aiohttp.ClientSession() as http:
                ws = await served.session(http)
                await ws.send_json(["stdin", PASTE_START + text + PASTE_END])
                await ws.send_json(["stdin", PASTE_START + text + smuggled + "tail" + PASTE_END])
                await ws.close()
            await served.ended()
            return served.keys()

    first, second = asyncio.run(main())
    assert first == PASTE_START + text[-PASTE_CHARS:] + PASTE_END
    inner = second[len(PASTE_START) : -len(PASTE_END)]
    assert "\x1b" not in inner and inner.endswith("[200~tail") and len(inner) == PASTE_CHARS


def test_a_message_over_the_limit_ends_the_session_with_one_log_line(tmp_path, caplog):
    import aiohttp

    from rnn_tui.cli.serve_gate import MAX_MESSAGE_BYTES

    async def main():
        async with gate_server(tmp_path) as served:
            async with aiohttp.ClientSession() as http:
                ws = await served.session(http)
                await ws.send_json(["stdin", "x" * MAX_MESSAGE_BYTES])
                code = await closed(ws)
            await served.ended()
            return code, served.keys()

    code, keys = asyncio.run(main())
    assert code == 1009 and keys == []  # (1009: message too big)
    lines = warnings_of(caplog)
    assert len(lines) == 1 and "over 1 MB" in lines[0].getMessage()


# -- 4: an upload cut short -------------------------------------------------------------------
def test_an_upload_cut_short_is_one_log_line_without_its_secret(tmp_path, caplog):
    import aiohttp

    from rnn_tui.app.public import UPLOAD_NAME
    from rnn_tui.cli import serve_gate

    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(serve_gate.RedactSecrets())  # as serve.py has the server's log

    async def main():
        async with gate_server(tmp_path, upload=True) as served:
            gate = served.gate
            env, folder, secret = gate.environment()
            session = serve_gate.Session(
                service=None, websocket=None, upload_dir=folder, upload_secret=secret
            )
            gate.opened(session)
            host, port = served.base.rsplit("/", 1)[-1].split(":")
            head = (
                b'--BB\r\nContent-Disposition: form-data; name="checkpoint"; filename="a.npz"'
                b"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(
                f"POST /upload/{secret} HTTP/1.1\r\nHost: x\r\n"
                "Content-Type: multipart/form-data; boundary=BB\r\n"
                "Content-Length: 10000000\r\n\r\n".encode()
                + head
                + b"x" * 100_000
            )
            await writer.drain()
            await asyncio.sleep(0.2)
            writer.close()
            end = time.monotonic() + 20
            while not warnings_of(caplog):
                assert time.monotonic() < end, caplog.text
                await asyncio.sleep(0.05)
            assert os.listdir(folder) == []  # no part file left
            form = aiohttp.FormData()  # and the next upload works
            form.add_field("checkpoint", b"PK\x03\x04 whole", filename="a.npz")
            async with aiohttp.ClientSession() as http:
                async with http.post(f"{served.base}/upload/{secret}", data=form) as r:
                    assert r.status == 200
            assert os.listdir(folder) == [UPLOAD_NAME]
            gate.ended(session)
            return secret

    secret = asyncio.run(main())
    lines = warnings_of(caplog)
    assert len(lines) == 1 and "stopped after" in lines[0].getMessage(), caplog.text
    assert secret not in caplog.text
    assert not any(r.exc_info for r in caplog.records) and " 500 " not in caplog.text


# -- 5: the secrets, however the URL spells them ----------------------------------------------
def redacted(message: str, token: str | None = None) -> str:
    from rnn_tui.cli.serve_gate import RedactSecrets

    record = logging.LogRecord("aiohttp.access", logging.INFO, "", 0, message, (), None)
    RedactSecrets(token).filter(record)
    return record.getMessage()


@pytest.mark.parametrize(
    "line",
    [
        '"GET /?token=SECRETVALUE HTTP/1.1" 200',
        '"GET /?%74oken=SECRETVALUE HTTP/1.1" 200',
        '"GET /?%74%6F%6B%65%6E=SECRETVALUE HTTP/1.1" 200',
        '"GET /?TOKEN=SECRETVALUE HTTP/1.1" 403',
        '"GET /?fontsize=20&ToKeN=SECRETVALUE&x=1 HTTP/1.1" 403',
        '"GET /?token%3DSECRETVALUE HTTP/1.1" 403',
        '"GET /ws/SECRETVALUE?width=80 HTTP/1.1" 101',
        '"GET /%77s/SECRETVALUE HTTP/1.1" 101',
        '"POST /upload/SECRETVALUE HTTP/1.1" 200',
        '"GET /UPLOAD%2FSECRETVALUE HTTP/1.1" 404',
        '"GET /download/SECRETVALUE HTTP/1.1" 200',
        '"GET /%64ownload/SECRETVALUE HTTP/1.1" 404',
        '"GET /static/x.css HTTP/1.1" 200 "http://host/?%54oken=SECRETVALUE" "Firefox"',
    ],
)
def test_the_log_hides_each_spelling_of_a_secret(line):
    out = redacted(line)
    assert "SECRETVALUE" not in out and "..." in out, out
    assert out.split(" ")[0] == line.split(" ")[0]  # the rest of the line stays


def test_the_log_hides_the_token_wherever_it_shows():
    assert redacted('"GET /abc/tok-0123456789 HTTP/1.1" 404', "tok-0123456789") == (
        '"GET /abc/... HTTP/1.1" 404'
    )
    assert redacted('"GET /static/xterm.css HTTP/1.1" 200') == (
        '"GET /static/xterm.css HTTP/1.1" 200'
    )


def test_the_server_s_log_hides_a_token_spelled_otherwise():
    """The real server: aiohttp takes `%74oken` for `token` (so the page is served), and its
    access log, through the filter serve.py installs, shows neither spelling's value."""
    import aiohttp
    import yarl
    from test_serve_gate import serving, up

    async def visit():
        with serving("--token", TOKEN) as (server, base):
            async with aiohttp.ClientSession() as http:
                await up(http, base)
                as_typed = yarl.URL(f"{base}/?%74oken={TOKEN}", encoded=True)  # not normalised
                async with http.get(as_typed) as r:
                    assert r.status == 200 and WS_PATH.search(await r.text())
                async with http.get(f"{base}/?TOKEN={TOKEN}") as r:
                    assert r.status == 403
                async with http.get(f"{base}/download/some-download-key") as r:
                    assert r.status == 404
            server.send_signal(signal.SIGINT)
            return server.communicate(timeout=30)[0]

    said = asyncio.run(visit())
    dense = "".join(said.split())
    assert dense.count(TOKEN) == 1, said  # the banner's link only
    assert "some-download-key" not in dense and "/download/...HTTP" in dense, said
    assert "/?%74oken=...HTTP" in dense and "/?TOKEN=...HTTP" in dense, said


# -- 6: places held by pages ------------------------------------------------------------------
def test_one_address_holds_one_place_and_the_busy_page_counts_held_places():
    from rnn_tui.app.public import PublicPolicy
    from rnn_tui.cli.serve_gate import MAX_SPARE_TICKETS, Gate

    gate = Gate(TOKEN, 2, 600, PublicPolicy.with_corpora([]), upload=False)
    first = gate.reserve("198.51.100.7")
    spares = [gate.reserve("198.51.100.7") for _ in range(MAX_SPARE_TICKETS + 50)]
    assert first and all(spares) and gate.places_taken() == 1
    assert len(gate.spare) == MAX_SPARE_TICKETS  # bounded, however many pages it asks for
    other = gate.reserve("198.51.100.8")  # someone else still gets the other place
    assert other and gate.places_taken() == 2
    assert gate.reserve("198.51.100.9") is None  # full: the busy page
    assert gate.admit(spares[-1]) == "2 people are using this demo, try again in a minute."
    assert gate.admit(first) == "" and gate.admit(other) == ""  # held places are kept
    gate.sessions.update({object(), object()})  # (stand-ins for the two sessions)
    assert gate.admit(spares[-2]).startswith("2 people")


def test_a_spare_ticket_gets_a_place_that_is_free():
    from rnn_tui.app.public import PublicPolicy
    from rnn_tui.cli.serve_gate import Gate

    gate = Gate(TOKEN, 2, 600, PublicPolicy.with_corpora([]), upload=False)
    held, spare = gate.reserve("203.0.113.5"), gate.reserve("203.0.113.5")  # behind one proxy
    assert gate.admit(spare) == "" and gate.admit(held) == ""  # both get in: there was room
    assert gate.admit(spare).startswith("This page has expired")  # (a ticket is good once)


def test_ipv6_clients_hold_a_place_a_machine():
    from rnn_tui.cli.serve_gate import holder

    assert holder("2001:db8:1:2:aaaa::1") == holder("2001:db8:1:2:bbbb::9")  # one /64
    assert holder("2001:db8:1:2::1") != holder("2001:db8:1:3::1")
    assert holder("::ffff:192.0.2.1") == holder("192.0.2.1") == "192.0.2.1"
    assert holder(None) == "" and holder("not an address") == "not an address"


def test_pages_from_one_address_leave_the_other_places_free(tmp_path):
    import aiohttp

    async def get(base: str, source: str) -> tuple[int, str]:
        connector = aiohttp.TCPConnector(local_addr=(source, 0))
        async with aiohttp.ClientSession(connector=connector) as http:
            async with http.get(f"{base}/?token={TOKEN}") as r:
                return r.status, await r.text()

    async def main():
        async with gate_server(tmp_path, max_sessions=2) as served:
            for _ in range(5):  # a script fetching pages with no websocket
                assert (await get(served.base, "127.0.0.1"))[0] == 200
            assert (await get(served.base, "127.0.0.2"))[0] == 200  # someone else gets in
            return await get(served.base, "127.0.0.3")

    status, text = asyncio.run(main())
    assert status == 503 and "2 people are using this demo" in text
