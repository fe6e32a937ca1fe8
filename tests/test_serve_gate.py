"""`rnn-tui serve`'s door: the token, the session limit and its busy page, the idle close, uploads,
and that nothing is left running. A real server on loopback, visited by websocket clients as the
page's own script visits it (GET the page, open the websocket its script names)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "test-token-0123456789"
WS_PATH = re.compile(r'new URL\("(ws/[A-Za-z0-9_-]+)"')

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("textual_serve") is None,
    reason="textual-serve is not installed (pip install 'rnn-tui[web]')",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[str]:
    """Command lines of every process below `pid` (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            fields = stat[stat.rfind(")") + 2 :].split()
            if fields[0] != "Z":
                parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            todo.append(child)
            with contextlib.suppress(OSError):
                found.append(
                    (Path("/proc") / str(child) / "cmdline")
                    .read_bytes()
                    .replace(b"\0", b" ")
                    .decode()
                )
    return found


def sessions(pid: int) -> list[str]:
    return [c for c in descendants(pid) if "rnn_tui app" in c or "rnn_tui.runtime.training_" in c]


async def wait_for(test, what: str, timeout: float = 30.0):
    end = time.monotonic() + timeout
    while not (value := test()):
        if time.monotonic() > end:
            raise AssertionError(f"no {what} after {timeout:g} s")
        await asyncio.sleep(0.1)
    return value


@contextlib.contextmanager
def serving(*options: str):
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rnn_tui",
            "serve",
            "--port",
            str(port),
            "--corpus",
            "abcde",
            "--hidden",
            "16",
            "--batch",
            "4",
            *options,
        ],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        text=True,
    )
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(5)


async def up(http, base: str) -> None:
    import aiohttp

    end = time.monotonic() + 60
    while True:
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"{base}/static/css/xterm.css") as r:
                if r.status == 200:
                    return
        if time.monotonic() > end:
            raise AssertionError("the server did not start")
        await asyncio.sleep(0.1)


async def first_frame(ws, timeout: float = 60.0) -> bytes:
    """Bytes from the app until a frame with the chart's percentages has come."""
    import aiohttp

    seen = b""
    end = time.monotonic() + timeout
    while b"%" not in seen:
        msg = await asyncio.wait_for(ws.receive(), max(0.1, end - time.monotonic()))
        if msg.type != aiohttp.WSMsgType.BINARY:
            raise AssertionError(f"the websocket ended before a frame: {msg.type}, {seen[-300:]!r}")
        seen += msg.data
    return seen


async def text_until_closed(ws, timeout: float = 30.0) -> str:
    import aiohttp

    out = b""
    end = time.monotonic() + timeout
    while True:
        msg = await asyncio.wait_for(ws.receive(), max(0.1, end - time.monotonic()))
        if msg.type == aiohttp.WSMsgType.BINARY:
            out += msg.data
        elif msg.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.CLOSING,
        ):
            return out.decode(errors="replace")


def test_a_wrong_or_missing_token_gets_a_page_saying_so_and_starts_nothing():
    import aiohttp

    async def visit():
        with serving("--token", TOKEN) as (server, base):
            async with aiohttp.ClientSession() as http:
                await up(http, base)
                for query in ("", "?token=wrong-token-000", f"?token={TOKEN[:-1]}"):
                    async with http.get(f"{base}/{query}") as r:
                        assert r.status == 403
                        assert "access token" in await r.text()
                for path in ("ws", "ws/made-up-ticket"):  # around the page: nothing starts either
                    async with http.ws_connect(f"{base}/{path}?width=80&height=24") as ws:
                        said = await text_until_closed(ws)
                    assert "reload" in said, said
                assert sessions(server.pid) == []
                async with http.get(f"{base}/?token={TOKEN}") as r:  # the right link works
                    assert r.status == 200 and WS_PATH.search(await r.text())
                    ticket = WS_PATH.search(await r.text()).group(1).rsplit("/", 1)[-1]
            server.send_signal(signal.SIGINT)
            said = server.communicate(timeout=30)[0]
        return said, ticket

    said, ticket = asyncio.run(visit())
    # The access log says who asked for what, without the token (only the banner's link has it),
    # the wrong guesses or the page's websocket ticket. (Rich wraps the log's lines anywhere, so
    # the output is read with its whitespace taken out.)
    dense = "".join(said.split())
    assert 'GET/?token=...HTTP/1.1"200' in dense, said
    assert dense.count(TOKEN) == 1 and f"?token={TOKEN}(trustedmode" in dense, said
    assert "wrong-token-000" not in dense and f"{TOKEN[:-1]}HTTP" not in dense
    assert ticket not in dense and "made-up-ticket" not in dense


def test_beyond_the_limit_a_busy_page_and_nothing_left_after_everyone_leaves():
    import aiohttp

    async def visit():
        with serving("--no-token", "--max-sessions", "1") as (server, base):
            async with aiohttp.ClientSession() as http:
                await up(http, base)
                async with http.get(f"{base}/") as r:
                    assert r.status == 200
                    path = WS_PATH.search(await r.text()).group(1)
                async with http.get(f"{base}/") as r:  # the place is held for the first page
                    assert r.status == 503 and r.headers["Retry-After"]
                    assert "try again in a minute" in await r.text()
                async with http.ws_connect(f"{base}/{path}?width=80&height=24") as ws:
                    await first_frame(ws)
                    await wait_for(
                        lambda: len(sessions(server.pid)) == 2, "an app and its training"
                    )
                    t0 = time.monotonic()
                    async with http.get(f"{base}/") as r:
                        assert r.status == 503
                        assert (
                            "1 person is using this demo, try again in a minute" in await r.text()
                        )
                    busy_s = time.monotonic() - t0
                    async with http.ws_connect(f"{base}/{path}?width=80&height=24") as second:
                        said = await text_until_closed(second)  # a used ticket starts nothing
                        assert "1 person is using this demo" in said, said
                await wait_for(lambda: sessions(server.pid) == [], "the app and training gone", 20)
                # The place frees once the session's end has run (its processes may be gone a
                # moment before): wait for it, then the page is served again.
                end = time.monotonic() + 20
                while True:
                    async with http.get(f"{base}/") as r:
                        if r.status == 200:
                            break
                        assert r.status == 503 and time.monotonic() < end, "the place stays taken"
                    await asyncio.sleep(0.1)
        return busy_s

    busy_s = asyncio.run(visit())
    print(f"busy page in {busy_s * 1e3:.0f} ms")


def test_an_idle_session_is_closed_with_a_note():
    import aiohttp

    async def visit():
        with serving("--no-token", "--idle-minutes", "0.05") as (server, base):  # 3 s
            async with aiohttp.ClientSession() as http:
                await up(http, base)
                async with http.get(f"{base}/") as r:
                    path = WS_PATH.search(await r.text()).group(1)
                async with http.ws_connect(f"{base}/{path}?width=80&height=24") as ws:
                    await first_frame(ws)
                    said = await text_until_closed(ws, timeout=60)
                assert "closed after 0.05 minutes without a key" in said
                await wait_for(lambda: sessions(server.pid) == [], "the app and training gone", 20)

    asyncio.run(visit())


def test_public_mode_on_another_address_and_its_options():
    from rnn_tui.cli.main import make_parser
    from rnn_tui.cli.serve import is_local, public_policy

    parse = make_parser().parse_args
    assert public_policy(parse(["serve"])) is None
    assert public_policy(parse(["serve", "--host", "0.0.0.0", "--trust-network"])) is None
    policy = public_policy(
        parse(
            [
                "serve",
                "--host",
                "0.0.0.0",
                "--offer-corpus",
                "notes.txt",
                "--max-hidden",
                "64",
                "--no-upload",
            ]
        )
    )
    assert policy is not None and policy.max_hidden == 64 and not policy.load and policy.save
    assert policy.corpora["notes.txt"] == "notes.txt" and "zen" in policy.corpora
    assert public_policy(parse(["serve", "--public"])) is not None
    assert is_local("127.0.0.1") and is_local("::1") and is_local("localhost")
    assert not is_local("0.0.0.0") and not is_local("192.168.1.5")


def test_public_serve_refuses_an_operator_start_beyond_its_caps(capsys):
    from rnn_tui.cli.main import main

    assert main(["serve", "--public", "--port", "8124", "--hidden", "512"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "hidden is capped at 256" in err, err


def test_an_upload_lands_in_its_session_folder_only(tmp_path):
    import aiohttp
    from aiohttp import web

    from rnn_tui.app.public import UPLOAD_NAME, PublicPolicy
    from rnn_tui.cli import serve_gate

    gate = serve_gate.Gate(None, 2, 60, PublicPolicy.with_corpora([]), upload=True)
    env, folder, secret = gate.environment()
    assert folder and secret and secret in env[serve_gate.UPLOAD_ENV]
    session = serve_gate.Session(
        service=None, websocket=None, upload_dir=folder, upload_secret=secret
    )
    gate.opened(session)

    class Routes(serve_gate.GateRoutes):
        def __init__(self) -> None:
            self.gate = gate

    async def visit():
        app = web.Application()
        Routes().add_gate_routes(app)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{base}/upload/{secret}") as r:
                    assert r.status == 200 and 'type="file"' in await r.text()
                form = aiohttp.FormData()
                form.add_field("checkpoint", b"PK\x03\x04 not really", filename="../../evil.npz")
                async with http.post(f"{base}/upload/{secret}", data=form) as r:
                    assert r.status == 200
                form = aiohttp.FormData()
                form.add_field("checkpoint", b"x", filename="a.npz")
                async with http.post(f"{base}/upload/not-a-secret", data=form) as r:
                    assert r.status == 404
        finally:
            await runner.cleanup()

    asyncio.run(visit())
    assert os.listdir(folder) == [UPLOAD_NAME]  # its one name, whatever the browser called it
    assert (Path(folder) / UPLOAD_NAME).read_bytes() == b"PK\x03\x04 not really"
    gate.ended(session)
    assert not os.path.exists(folder)
    gate.close()
