"""Many visitors at once on `rnn-tui serve`: who gets a session, who gets the busy page, how fast,
and whether anything is left running afterwards. Websocket clients on loopback, as textual-serve's
page is one (GET the page, open its websocket, send keys as ["stdin", text]).

    python benchmarks/many_visitors.py [--visitors 8] [--max-sessions 2] [--hold 20] [--rounds 3]
                                       [--public] [--json FILE]

Each round: the server starts; all visitors ask for the page at the same moment. A visitor with a
page opens its websocket, waits for the app's first frame, types a phrase and waits for the
chart's heading for it (typing updates the chart); while the sessions are held, every visitor
keeps asking the server for a page (one request every 0.5 s), to see that it answers them all;
then everyone leaves and the app and training processes are counted until none is left. Numbers
are printed, never asserted: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from keystroke_latency import heading_pattern  # noqa: E402
from procmem import cmdline, descendants, load_average  # noqa: E402

TOKEN = "bench-token-0123456789"
PHRASE = "Beautiful is"
WS_PATH = re.compile(r'new URL\("(ws/[A-Za-z0-9_-]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session_processes(server_pid: int) -> dict[str, int]:
    kinds = {"app": 0, "training": 0}
    for pid in descendants(server_pid):
        line = cmdline(pid)
        if "rnn_tui app" in line:
            kinds["app"] += 1
        elif "rnn_tui.runtime.training_" in line:  # (training_process, or training_child)
            kinds["training"] += 1
    return kinds


async def visitor(http, base: str, start: asyncio.Event, hold: float, leave: asyncio.Event) -> dict:
    import aiohttp

    out: dict = {"status": None}
    await start.wait()
    t0 = time.perf_counter()
    try:
        async with http.get(f"{base}/?token={TOKEN}") as r:
            out["status"], page = r.status, await r.text()
    except aiohttp.ClientError as e:
        out["error"] = repr(e)
        return out
    out["page_ms"] = (time.perf_counter() - t0) * 1e3
    if out["status"] != 200:
        out["busy_page"] = (
            "people are using this demo" in page or "person is using this demo" in page
        )
        out["answers"] = await keep_asking(http, base, leave)
        return out
    m = WS_PATH.search(page)
    if not m:
        out["error"] = "no websocket path in the page"
        return out
    async with http.ws_connect(f"{base}/{m.group(1)}?width=80&height=24", max_msg_size=0) as ws:
        seen, typed = b"", None
        pattern = heading_pattern(PHRASE)
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline:
            try:
                msg = await asyncio.wait_for(ws.receive(), deadline - time.perf_counter())
            except asyncio.TimeoutError:
                break
            if msg.type == aiohttp.WSMsgType.BINARY:
                seen += msg.data
                if "first_frame_ms" not in out and b"%" in seen:
                    out["first_frame_ms"] = (time.perf_counter() - t0) * 1e3
                    seen = b""
                    typed = time.perf_counter()
                    await ws.send_str(json.dumps(["stdin", PHRASE]))
                elif typed is not None and pattern.search(seen):
                    out["typed_to_chart_ms"] = (time.perf_counter() - typed) * 1e3
                    break
                seen = seen[-4096:]
            elif msg.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.ERROR,
            ):
                out["closed_early"] = True
                break
        out["answers"] = await keep_asking(http, base, leave, ws)
    return out


async def keep_asking(http, base: str, leave: asyncio.Event, ws=None) -> dict:
    """Ask for a page every 0.5 s until told to leave (a session's websocket is drained
    meanwhile, as a browser does): how many answers, how slow the slowest."""
    import aiohttp

    asked = answered = 0
    slowest = 0.0

    async def drain() -> None:
        async for _ in ws:
            pass

    drainer = asyncio.create_task(drain()) if ws is not None else None
    while not leave.is_set():
        asked += 1
        t0 = time.perf_counter()
        try:
            async with http.get(
                f"{base}/static/css/xterm.css", timeout=aiohttp.ClientTimeout(total=10)
            ) as r:
                await r.read()
                answered += r.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            pass
        slowest = max(slowest, time.perf_counter() - t0)
        try:
            await asyncio.wait_for(leave.wait(), 0.5)
        except asyncio.TimeoutError:
            pass
    if drainer is not None:
        drainer.cancel()
    return {"asked": asked, "answered": answered, "slowest_ms": slowest * 1e3}


async def one_round(n: int, max_sessions: int, hold: float, public: bool) -> dict:
    import aiohttp

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [
        sys.executable,
        "-m",
        "rnn_tui",
        "serve",
        "--port",
        str(port),
        "--token",
        TOKEN,
        "--max-sessions",
        str(max_sessions),
        *(["--public"] if public else []),
    ]
    server = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    )
    try:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    async with http.get(f"{base}/static/css/xterm.css") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("error: the server did not start within 60 s")
                await asyncio.sleep(0.2)
            start, leave = asyncio.Event(), asyncio.Event()
            # Each visitor from an address of its own (127.0.0.2, .3, ...): the gate lets one
            # address hold one page's place, as for visitors on different machines.
            clients = [
                aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(local_addr=(f"127.0.0.{2 + i}", 0))
                )
                for i in range(n)
            ]
            try:
                tasks = [asyncio.create_task(visitor(c, base, start, hold, leave)) for c in clients]
                start.set()
                await asyncio.sleep(hold)
                during = session_processes(server.pid)
                leave.set()
                visitors = await asyncio.gather(*tasks)
            finally:
                for c in clients:
                    await c.close()
        t_left = time.monotonic()
        left = session_processes(server.pid)
        while sum(left.values()) and time.monotonic() - t_left < 30:
            await asyncio.sleep(0.2)
            left = session_processes(server.pid)
        return {
            "visitors": visitors,
            "processes_while_held": during,
            "processes_left": left,
            "all_gone_s": time.monotonic() - t_left,
            "load": load_average(),
        }
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(5)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--visitors", type=int, default=8)
    p.add_argument("--max-sessions", type=int, default=2)
    p.add_argument(
        "--hold", type=float, default=20.0, help="seconds the sessions are held (default 20)"
    )
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--public", action="store_true")
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args(argv)
    rounds = []
    for i in range(args.rounds):
        r = asyncio.run(one_round(args.visitors, args.max_sessions, args.hold, args.public))
        rounds.append(r)
        v = r["visitors"]
        ok = [x for x in v if x["status"] == 200]
        busy = [x for x in v if x["status"] == 503]
        working = [x for x in ok if "typed_to_chart_ms" in x]
        answers = [x["answers"] for x in v if "answers" in x]
        print(
            f"round {i + 1}: {len(ok)} sessions ({len(working)} typed and saw the chart follow: "
            + ", ".join(
                f"first frame {x['first_frame_ms']:.0f} ms, typing -> chart "
                f"{x['typed_to_chart_ms']:.0f} ms"
                for x in working
            )
            + f"); {len(busy)} busy pages (all say so: {all(x.get('busy_page') for x in busy)}), "
            f"slowest {max((x['page_ms'] for x in busy), default=0):.0f} ms; "
            f"other: {[x.get('status') for x in v if x['status'] not in (200, 503)]}"
        )
        print(
            f"  while held: {r['processes_while_held']}; the server answered "
            f"{sum(a['answered'] for a in answers)}/{sum(a['asked'] for a in answers)} requests "
            f"(slowest {max((a['slowest_ms'] for a in answers), default=0):.0f} ms); after all "
            f"left: {r['processes_left']} after {r['all_gone_s']:.1f} s; load {r['load']:.1f}"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"args": vars(args), "rounds": rounds}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
