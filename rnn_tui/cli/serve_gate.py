"""The door of `rnn-tui serve`: access token, session limit, idle close, uploads. On aiohttp.

Every visitor's tab costs an app process and a training process, on a machine that may have two
cores, so nothing starts before the door says yes:
- the page ("/") needs the token (`?token=...`) when there is one: without it, a page saying so;
- it then reserves one of `max_sessions` places for TICKET_SECONDS and puts that ticket in the
  page's websocket address (`ws/<ticket>`); over the limit, a busy page (HTTP 503) instead. One
  client address holds at most one such place (see Gate.reserve);
- the websocket starts an app only for a live ticket, so no process ever starts for a visitor
  who has not passed the page's checks (a bare or stale `ws` gets a line of text and is closed);
- every websocket frame is checked before its app sees it (GateRoutes._relay): a resize is held to
  the sizes a URL may ask for, keys to what a person types, and a frame the page never sends ends
  the session with one log line;
- a session with no key from its visitor for `idle_seconds` is closed, its app quit (killed if it
  does not quit within STOP_SECONDS; its training process follows, reading the end of its input);
- in public mode each session has a private upload folder and page (`upload/<secret>`): the only
  way a visitor's file reaches the app (see app/public_actions.py).
(Over 400 lines: the door, and what passes it afterwards, each frame of each websocket.)
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from aiohttp import ClientPayloadError, WSCloseCode, WSMsgType, web
from textual_serve.app_service import AppService

from rnn_tui.app.public import ENV as PUBLIC_ENV
from rnn_tui.app.public import UPLOAD_ENV, UPLOAD_NAME, PublicPolicy

TICKET_SECONDS = 30.0  # a place held for a page until its websocket connects (a slow link
# fetches the page's 700 KB of script and fonts first)
MAX_SPARE_TICKETS = 256  # pages served beyond one per address, without a place (Gate.reserve)
STOP_SECONDS = 5.0  # an app asked to quit gets this long before it is killed
MAX_UPLOAD_BYTES = 64 * 1024 * 1024  # (app/public_actions.py reads no more than this either)
RETRY_SECONDS = 60
MIN_SIZE, MAX_SIZE = 10, 500  # a terminal's columns and rows, asked in the URL or by a resize
# One websocket message: room for a paste of about a megabyte (aiohttp's default is 4 MB); larger
# ends the session. The app keeps the last 2000 characters of a paste anyway.
MAX_MESSAGE_BYTES = 1 << 20
# Input the app is sent, in events (a key, a mouse report, a resize): a person typing, key repeat
# and mouse moves stay well under EVENTS_PER_SECOND, and EVENT_BURST covers a flurry. Each key
# the prompt takes costs the app milliseconds, so more would queue up in its memory: 600 KB of keys
# in one frame took an app from 60 MB to 1.7 GB. Input beyond the budget is dropped.
EVENTS_PER_SECOND = 100
EVENT_BURST = 500
# A frame of keys longer than this is no keyboard's: a paste comes bracketed, keys one by one.
RAW_INPUT_CHARS = 4096
PASTE_CHARS = 16384  # a paste's end passed on: the prompt reads its last 8000 characters at most
PASTE_CHARS_PER_EVENT = 4096  # what a paste costs from the budget: the app parses each character
PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"  # a bracketed paste, as xterm.js sends one

log = logging.getLogger("rnn_tui.serve")

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>rnn-tui</title>%(refresh)s
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;
background:#1e1e1e;color:#ddd}h1{font-size:1.3em}code{color:#8cf}</style></head>
<body><h1>%(title)s</h1><p>%(text)s</p></body></html>
"""


def _as_sent(word: str) -> str:
    """A regex for `word` however a URL may spell it: any letter case (with re.I), any character
    percent-encoded. aiohttp decodes a query's names before the gate reads them, so `?%74oken=`
    and `?TOKEN=` must be hidden too (the latter is refused, but may still be the token)."""
    return "".join(
        f"(?:{re.escape(ch)}|%{ord(ch.lower()):02x}|%{ord(ch.upper()):02x})" for ch in word
    )


# The secrets a URL can carry: the access token, a page's websocket ticket, an upload page's secret
# and a download's key (whoever has it gets the visitor's checkpoint).
_SECRET_PATHS = "|".join(_as_sent(f"/{name}/") for name in ("ws", "upload", "download"))
_SECRET_IN_URL = re.compile(
    rf"({_as_sent('token=')})[^&\s\"']+|({_SECRET_PATHS})[^/?&\s\"']+", re.I
)


class RedactSecrets(logging.Filter):
    """Keeps the access log (who asked for what, and the answer) but not the secrets in its URLs:
    a log is read by more people than the link was given to. The token itself is hidden wherever
    it shows, however it was asked for."""

    def __init__(self, token: str | None = None) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRET_IN_URL.sub(lambda m: (m.group(1) or m.group(2)) + "...", message)
        if self.token:
            redacted = redacted.replace(self.token, "...")
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def holder(address: str | None) -> str:
    """Who holds a place, for one place per client (Gate.reserve): its IP address, or for IPv6
    its /64, the block one machine usually has to itself."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or ""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def page(title: str, text: str, status: int, refresh: int | None = None) -> web.Response:
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    body = _PAGE % {"title": html.escape(title), "text": text, "refresh": meta}
    headers = {"Cache-Control": "no-store"}
    if status == 503:
        headers["Retry-After"] = str(RETRY_SECONDS)
    return web.Response(text=body, status=status, content_type="text/html", headers=headers)


def busy_text(active: int) -> str:
    people = "1 person is" if active == 1 else f"{active} people are"
    return f"{people} using this demo, try again in a minute."


@dataclass(eq=False)  # one per tab, hashed by identity (the gate keeps them in a set)
class Session:
    service: SessionService
    websocket: web.WebSocketResponse
    upload_dir: str | None = None
    upload_secret: str | None = None
    last_input: float = field(default_factory=time.monotonic)
    closing: str = ""  # why the server closes it ("" while the visitor has it)
    visitor: str = "?"  # the client's address, for the log


class Gate:
    """Who may start a session, and the sessions running."""

    def __init__(
        self,
        token: str | None,
        max_sessions: int,
        idle_seconds: float,
        public: PublicPolicy | None,
        upload: bool,
    ) -> None:
        self.token, self.max_sessions, self.idle_seconds = token, max_sessions, idle_seconds
        self.public = public
        self.upload = public is not None and public.load and upload
        # ticket -> when it lapses (time.monotonic) and who holds its place (see holder())
        self.tickets: dict[str, tuple[float, str]] = {}
        self.spare: dict[str, float] = {}  # ticket -> when it lapses, for pages without a place
        self.sessions: set[Session] = set()
        self.uploads: dict[str, Session] = {}  # secret -> its session
        self._upload_root = tempfile.mkdtemp(prefix="rnn-tui-uploads-") if self.upload else None

    def close(self) -> None:
        if self._upload_root:
            shutil.rmtree(self._upload_root, ignore_errors=True)

    # -- checks --------------------------------------------------------------------------------
    def token_ok(self, request: web.Request) -> bool:
        if self.token is None:
            return True
        given = request.query.get("token", "")
        return secrets.compare_digest(given.encode(), self.token.encode())

    def _lapse(self) -> None:
        now = time.monotonic()
        for ticket in [t for t, (end, _) in self.tickets.items() if end <= now]:
            del self.tickets[ticket]
        for ticket in [t for t, end in self.spare.items() if end <= now]:
            del self.spare[ticket]

    def places_taken(self) -> int:
        """Sessions running and places held for pages whose websocket has not come yet."""
        self._lapse()
        return len(self.sessions) + len(self.tickets)

    def reserve(self, address: str | None = None) -> str | None:
        """A ticket for a new session, or None when every place is taken.

        A page holds a place for its websocket, so that whoever got the page gets the app; but a
        place held costs a request, and every place held with no websocket keeps someone out. So
        one client address holds one place at most: its further pages are served a spare ticket,
        good for a place only if one is free when their websocket comes. A reload is served, and
        so is a second visitor behind the same proxy or NAT, and a script fetching pages from
        one address keeps one place, not all, and only for TICKET_SECONDS."""
        if self.places_taken() >= self.max_sessions:
            return None
        ticket = secrets.token_urlsafe(16)
        lapse = time.monotonic() + TICKET_SECONDS
        who = holder(address)
        if any(held == who for _, held in self.tickets.values()):
            self.spare[ticket] = lapse
            if len(self.spare) > MAX_SPARE_TICKETS:  # the oldest goes: memory stays bounded
                del self.spare[next(iter(self.spare))]
        else:
            self.tickets[ticket] = (lapse, who)
        return ticket

    def admit(self, ticket: str | None) -> str:
        """'' when the ticket is live (it is used up) and has a place, else why not."""
        self._lapse()
        if ticket and self.tickets.pop(ticket, None) is not None:
            return ""  # its place was held for it
        spare = ticket is not None and self.spare.pop(ticket, None) is not None
        trusted = self.token is None and ticket is None  # textual-serve's own page, no token
        if (spare or trusted) and self.places_taken() < self.max_sessions:
            return ""
        if self.places_taken() >= self.max_sessions:
            return busy_text(self.places_taken())
        return "This page has expired: reload it to start the demo."

    # -- sessions ------------------------------------------------------------------------------
    def environment(self) -> tuple[dict[str, str], str | None, str | None]:
        """Extra environment of a new app process, its upload folder and the folder's secret."""
        env: dict[str, str] = {}
        folder = secret = None
        if self.public is not None:
            env[PUBLIC_ENV] = self.public.to_env()
        if self._upload_root is not None:
            secret = secrets.token_urlsafe(24)
            folder = tempfile.mkdtemp(prefix="session-", dir=self._upload_root)
            env[UPLOAD_ENV] = json.dumps({"dir": folder, "url": f"upload/{secret}"})
        return env, folder, secret

    def opened(self, session: Session) -> None:
        self.sessions.add(session)
        if session.upload_secret:
            self.uploads[session.upload_secret] = session

    def ended(self, session: Session) -> None:
        self.sessions.discard(session)
        if session.upload_secret:
            self.uploads.pop(session.upload_secret, None)
        if session.upload_dir:
            shutil.rmtree(session.upload_dir, ignore_errors=True)


class SessionService(AppService):
    """textual-serve's app process for one tab, with the gate's environment, and the time of
    the visitor's last key (for the idle close)."""

    def __init__(self, *args, extra_env: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.extra_env = extra_env
        self.last_input = time.monotonic()

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        env = super()._build_environment(width, height)
        env.update(self.extra_env)
        return env

    async def send_bytes(self, data: bytes) -> bool:
        self.last_input = time.monotonic()
        return await super().send_bytes(data)

    async def detach(self) -> None:
        """From now on the app's output and its goodbye (which closes the websocket) go
        nowhere: the server has the last word in the page."""

        async def nowhere(*_args) -> None:
            return None

        self.remote_write_bytes = self.remote_write_str = self.remote_close = nowhere

    async def end(self) -> None:
        """Quit the app, and kill it if it does not go: no process outlives its session."""
        try:
            await asyncio.wait_for(asyncio.shield(self.stop()), STOP_SECONDS)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001 (a broken pipe: the app is gone)
            pass
        proc = self._process
        if proc is not None and proc.returncode is None:
            try:
                proc.kill()
            except ProcessLookupError:
                pass
            try:
                await asyncio.wait_for(proc.wait(), STOP_SECONDS)
            except asyncio.TimeoutError:
                pass
        if self._task is not None and not self._task.done():
            self._task.cancel()


def terminal_note(text: str) -> bytes:
    """A message for the page's terminal, where the app would be: cleared screen, centred-ish."""
    return ("\x1b[2J\x1b[H\r\n\r\n  " + text.replace("\n", "\r\n  ") + "\r\n").encode()


# -- what a visitor's websocket may say ----------------------------------------------------------
class BadFrame(Exception):
    """A websocket frame the page's script never sends (the reason, for the log)."""


def read_frame(text: str) -> tuple[str, Any]:
    """A frame of the page's script, checked: ("stdin", keys), ("resize", (columns, rows)) held
    to MIN_SIZE..MAX_SIZE, ("ping", text), ("focus" or "blur", None), or ("", None) for a kind
    textual-serve ignores too. BadFrame for anything else: the app gets only what it can take
    (a resize of strings crashed it; one of 100000 columns took it to 5 GB)."""
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):  # (RecursionError: brackets nested thousands deep)
        raise BadFrame("a websocket frame that is not JSON") from None
    if not (isinstance(frame, list) and frame and isinstance(frame[0], str)):
        raise BadFrame("a websocket frame that is not [kind, data]")
    kind, data = frame[0], frame[1] if len(frame) > 1 else None
    if kind == "stdin":
        if not isinstance(data, str):
            raise BadFrame("keys (stdin) that are not text")
        return kind, data
    if kind == "resize":
        size = data if isinstance(data, dict) else {}
        width, height = size.get("width"), size.get("height")
        if not (_whole(width) and _whole(height)):
            raise BadFrame("a resize without two whole numbers")
        return kind, (_clamp(width), _clamp(height))
    if kind == "ping":  # (the page's is its clock, in milliseconds)
        if not isinstance(data, str) or len(data) > 64:
            raise BadFrame("a ping that is not a short text")
        return kind, data
    if kind in ("focus", "blur"):
        return kind, None
    return "", None


def _whole(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


# A CSI or SS3 sequence: one key (an arrow, F5, shift+tab) or one mouse report.
_SEQUENCE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|O.)", re.S)


def keys_to_send(keys: str) -> tuple[str, int] | None:
    """What the app is sent for a stdin frame and what it costs, in input events; None for a
    frame no keyboard makes. A bracketed paste is one event to the app (plus its parsing): its
    escape characters go (so it cannot end early and go on as keys) and it is cut to its last
    PASTE_CHARS characters. Other frames are keys, each character or sequence one event."""
    if (
        len(keys) >= 2 * len(PASTE_START)
        and keys.startswith(PASTE_START)
        and keys.endswith(PASTE_END)
    ):
        text = keys[len(PASTE_START) : -len(PASTE_END)].replace("\x1b", "")
        cost = 1 + len(text) // PASTE_CHARS_PER_EVENT
        return PASTE_START + text[-PASTE_CHARS:] + PASTE_END, cost
    if len(keys) > RAW_INPUT_CHARS:
        return None
    return keys, len(_SEQUENCE.sub("\x1b", keys))


class InputBudget:
    """A visitor's input events: EVENT_BURST at once, refilled at EVENTS_PER_SECOND."""

    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self.left, self.when = float(EVENT_BURST), clock()

    def take(self, events: int) -> bool:
        now = self.clock()
        self.left = min(EVENT_BURST, self.left + (now - self.when) * EVENTS_PER_SECOND)
        self.when = now
        if events > self.left:
            return False
        self.left -= events
        return True


class GateRoutes:
    """The handlers the server class mixes in (see cli/serve.py): needs `gate`, `command` and
    `download_manager`."""

    gate: Gate
    command: str
    download_manager: Any

    def add_gate_routes(self, app: web.Application) -> None:
        app.router.add_get("/ws/{ticket}", self.handle_websocket)
        app.router.add_get("/upload/{secret}", self.handle_upload_page)
        app.router.add_post("/upload/{secret}", self.handle_upload)

    async def gate_index(self, request: web.Request):
        """The page's checks: None when it may be served (with the ticket), else the response."""
        gate = self.gate
        if not gate.token_ok(request):
            return None, page(
                "This demo needs its access link",
                "The address must include the access token (<code>?token=…</code>) printed "
                "when the server started: ask whoever runs it for the full link.",
                403,
            )
        ticket = gate.reserve(request.remote)
        if ticket is None:
            return None, page(
                "The demo is busy",
                html.escape(busy_text(gate.places_taken())),
                503,
                refresh=RETRY_SECONDS,
            )
        return ticket, None

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        gate = self.gate
        ticket = request.match_info.get("ticket")
        width = _size(request.query.get("width"), 80)
        height = _size(request.query.get("height"), 24)
        websocket = web.WebSocketResponse(heartbeat=15, max_msg_size=MAX_MESSAGE_BYTES)
        await websocket.prepare(request)
        refusal = gate.admit(ticket)
        if refusal:  # nothing started: a line in the page's terminal, and goodbye
            await websocket.send_bytes(terminal_note(refusal))
            await websocket.close()
            return websocket
        env, folder, secret = gate.environment()
        service = SessionService(
            self.command,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=self.download_manager,
            extra_env=env,
        )
        session = Session(service, websocket, folder, secret, visitor=request.remote or "?")
        gate.opened(session)
        watcher = asyncio.create_task(self._watch_idle(session))
        try:
            await service.start(width, height)
            await self._relay(session)
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # noqa: BLE001 (this session ends, one line says why, no other)
            log.warning("session of %s ended: %s: %s", session.visitor, type(exc).__name__, exc)
        finally:
            watcher.cancel()
            # The end runs to its finish even if this handler is cancelled meanwhile (Ctrl+C on
            # the server while a tab is closing): otherwise its app could outlive the server.
            ending = asyncio.ensure_future(self._end_session(session))
            try:
                await asyncio.shield(ending)
            except asyncio.CancelledError:
                await ending
        return websocket

    async def _relay(self, session: Session) -> None:
        """The visitor's frames to their app, each checked first (textual-serve's own relay
        passes on whatever comes). Returns when the websocket closes, or after one log line
        on a frame the page's script never sends: its session ends. Input beyond the budget is
        dropped, with one log line a session: it is a script's, not a person's."""
        websocket, service = session.websocket, session.service
        budget = InputBudget()
        dropped = False
        while True:
            message = await websocket.receive()
            if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                return
            try:
                if message.type == WSMsgType.ERROR:
                    raise BadFrame(_websocket_error(message.data))
                if message.type != WSMsgType.TEXT:
                    raise BadFrame("a binary websocket frame")
                kind, data = read_frame(message.data)
            except BadFrame as why:
                log.warning("session of %s ended: %s", session.visitor, why)
                return
            send, cost = "", 0 if kind == "ping" else 1  # (the gate answers a ping itself)
            if kind == "stdin":
                keys = keys_to_send(data)
                send, cost = keys if keys is not None else ("", EVENT_BURST + 1)  # (never)
            if not budget.take(cost):
                if not dropped:
                    dropped = True
                    log.warning(
                        "input from %s beyond what a person types is dropped (at most %d "
                        "events a second, %d at once, keys of %d characters a frame); "
                        "the session goes on",
                        session.visitor,
                        EVENTS_PER_SECOND,
                        EVENT_BURST,
                        RAW_INPUT_CHARS,
                    )
                continue
            if kind == "stdin":
                # (errors="replace": a lone surrogate is valid JSON but no UTF-8)
                await service.send_bytes(send.encode("utf-8", "replace"))
            elif kind == "resize":
                await service.set_terminal_size(*data)
            elif kind == "ping":
                with _quiet():
                    await websocket.send_json(["pong", data])
            elif kind == "focus":
                await service.focus()
            elif kind == "blur":
                await service.blur()

    async def _end_session(self, session: Session) -> None:
        await session.service.end()
        self.gate.ended(session)
        with _quiet():
            if not session.websocket.closed:
                await session.websocket.close()

    async def _watch_idle(self, session: Session) -> None:
        gate = self.gate
        while True:
            left = session.service.last_input + gate.idle_seconds - time.monotonic()
            if left > 0:
                await asyncio.sleep(left)
                continue
            session.closing = "idle"
            await session.service.detach()
            await session.service.end()
            minutes = gate.idle_seconds / 60
            with _quiet():
                await session.websocket.send_bytes(
                    terminal_note(
                        f"This session was closed after {minutes:g} minutes without a key.\n"
                        "Reload the page to start again."
                    )
                )
                await session.websocket.close()
            return

    # -- uploads -------------------------------------------------------------------------------
    async def handle_upload_page(self, request: web.Request) -> web.Response:
        if self.gate.uploads.get(request.match_info["secret"]) is None:
            return page(
                "No such upload", "This upload link belongs to a session that has ended.", 404
            )
        form = (
            "Choose a checkpoint (<code>.npz</code>) saved from rnn-tui, then go back to the "
            "demo's tab and press <b>l</b> (or ctrl+l) again.</p>"
            '<form method="post" enctype="multipart/form-data">'
            '<input type="file" name="checkpoint" accept=".npz" required> '
            '<button type="submit">Upload</button></form><p>'
        )
        return page("Load a checkpoint", form, 200)

    async def handle_upload(self, request: web.Request) -> web.Response:
        session = self.gate.uploads.get(request.match_info["secret"])
        if session is None or session.upload_dir is None:
            return page(
                "No such upload", "This upload link belongs to a session that has ended.", 404
            )
        try:
            reader = await request.multipart()
            part = await reader.next()
            while part is not None and getattr(part, "name", None) != "checkpoint":
                part = await reader.next()
        except Exception:  # noqa: BLE001 (not a form: whatever aiohttp says, the answer is no)
            part = None
        if part is None or not hasattr(part, "read_chunk"):
            return page("Nothing uploaded", "The form had no file.", 400)
        final = os.path.join(session.upload_dir, UPLOAD_NAME)
        partial = final + ".part"
        size = 0
        try:
            with open(partial, "wb") as out:
                while chunk := await part.read_chunk(1 << 16):
                    size += len(chunk)
                    if size > MAX_UPLOAD_BYTES:
                        break
                    out.write(chunk)
            if size <= MAX_UPLOAD_BYTES:
                os.replace(partial, final)  # the app sees the whole file or none
        except (ConnectionError, ClientPayloadError, asyncio.IncompleteReadError):
            # The browser went away mid-way (a closed tab, a lost link): nobody reads the answer.
            log.warning(
                "an upload from %s stopped after %d bytes: nothing kept", request.remote, size
            )
            return page(
                "Upload interrupted", "The file did not arrive whole: nothing was kept.", 400
            )
        except OSError as exc:  # the server's disk: full, or the session's folder gone
            log.warning("an upload from %s could not be stored: %s", request.remote, exc.strerror)
            return page("Not stored", "The server could not store the file: try again later.", 507)
        except Exception:  # noqa: BLE001 (a broken form: whatever aiohttp says, the answer is no)
            return page("Nothing uploaded", "The form could not be read.", 400)
        finally:
            _remove(partial)  # what is left of a file not kept (a kept one was renamed)
        if size > MAX_UPLOAD_BYTES:
            return page(
                "Too large", f"A checkpoint here is at most {MAX_UPLOAD_BYTES // 2**20} MB.", 413
            )
        return page(
            "Uploaded",
            f"{size:,} bytes. Go back to the demo's tab and press <b>l</b> "
            "(or ctrl+l) to load it; the app checks it first.",
            200,
        )


def _size(text: str | None, default: int) -> int:
    try:
        value = int(text or default)
    except ValueError:
        return default
    return _clamp(value)


def _clamp(value: int) -> int:
    return min(max(value, MIN_SIZE), MAX_SIZE)


def _websocket_error(error: object) -> str:
    """Why aiohttp gave up on a websocket, in words for the log."""
    if getattr(error, "code", None) == WSCloseCode.MESSAGE_TOO_BIG:
        return f"a websocket message over {MAX_MESSAGE_BYTES // 2**20} MB"
    return f"a broken websocket ({type(error).__name__}: {error})"


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class _quiet:
    """Ignore a websocket that went away meanwhile."""

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb) -> bool:
        return kind is not None and issubclass(kind, (ConnectionError, RuntimeError))
