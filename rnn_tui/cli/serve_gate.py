"""The door of `rnn-tui serve`: access token, session limit, idle close, uploads. On aiohttp.

Every visitor's tab costs an app process and a training process, on a machine that may have two
cores, so nothing starts before the door says yes:
- the page ("/") needs the token (`?token=...`) when there is one: without it, a page saying so;
- it then reserves one of `max_sessions` places for TICKET_SECONDS and puts that ticket in the
  page's websocket address (`ws/<ticket>`); over the limit, a busy page (HTTP 503) instead;
- the websocket starts an app only for a live ticket, so no process ever starts for a visitor
  who has not passed the page's checks (a bare or stale `ws` gets a line of text and is closed);
- a session with no key from its visitor for `idle_seconds` is closed, its app quit (killed if it
  does not quit within STOP_SECONDS; its training process follows, reading the end of its input);
- in public mode each session has a private upload folder and page (`upload/<secret>`): the only
  way a visitor's file reaches the app (see app/public_actions.py).
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from textual_serve.app_service import AppService

from rnn_tui.app.public import ENV as PUBLIC_ENV
from rnn_tui.app.public import UPLOAD_ENV, UPLOAD_NAME, PublicPolicy

TICKET_SECONDS = 30.0  # a place held for a page until its websocket connects
STOP_SECONDS = 5.0  # an app asked to quit gets this long before it is killed
MAX_UPLOAD_BYTES = 64 * 1024 * 1024  # (app/public_actions.py reads no more than this either)
RETRY_SECONDS = 60

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>rnn-tui</title>%(refresh)s
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;
background:#1e1e1e;color:#ddd}h1{font-size:1.3em}code{color:#8cf}</style></head>
<body><h1>%(title)s</h1><p>%(text)s</p></body></html>
"""


# The secrets a URL can carry: the access token, a page's websocket ticket, an upload page's secret.
_SECRET_IN_URL = re.compile(r"(token=)[^&\s\"']+|(/(?:ws|upload)/)[^/?&\s\"']+")


class RedactSecrets(logging.Filter):
    """Keeps the access log (who asked for what, and the answer) but not the secrets in its URLs:
    a log is read by more people than the link was given to."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRET_IN_URL.sub(lambda m: (m.group(1) or m.group(2)) + "...", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


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
        self.tickets: dict[str, float] = {}  # ticket -> when it lapses (time.monotonic)
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
        for ticket in [t for t, end in self.tickets.items() if end <= now]:
            del self.tickets[ticket]

    def places_taken(self) -> int:
        self._lapse()
        return len(self.sessions) + len(self.tickets)

    def reserve(self) -> str | None:
        """A ticket for a new session, or None when every place is taken."""
        if self.places_taken() >= self.max_sessions:
            return None
        ticket = secrets.token_urlsafe(16)
        self.tickets[ticket] = time.monotonic() + TICKET_SECONDS
        return ticket

    def admit(self, ticket: str | None) -> str:
        """'' when the ticket is live (it is used up), else why not."""
        self._lapse()
        if ticket and self.tickets.pop(ticket, None) is not None:
            return ""
        if self.token is None and ticket is None and self.places_taken() < self.max_sessions:
            return ""  # textual-serve's own page, on a trusted network with room to spare
        if self.places_taken() >= self.max_sessions:
            return busy_text(len(self.sessions))
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


class GateRoutes:
    """The handlers the server class mixes in (see cli/serve.py): needs `gate`, `command`,
    `download_manager`, `title` and textual-serve's `_process_messages`."""

    gate: Gate
    command: str
    download_manager: Any
    _process_messages: Any  # textual-serve's, on the server class

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
        ticket = gate.reserve()
        if ticket is None:
            return None, page(
                "The demo is busy",
                html.escape(busy_text(len(gate.sessions))),
                503,
                refresh=RETRY_SECONDS,
            )
        return ticket, None

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        gate = self.gate
        ticket = request.match_info.get("ticket")
        width = _size(request.query.get("width"), 80)
        height = _size(request.query.get("height"), 24)
        websocket = web.WebSocketResponse(heartbeat=15)
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
        session = Session(service, websocket, folder, secret)
        gate.opened(session)
        watcher = asyncio.create_task(self._watch_idle(session))
        try:
            await service.start(width, height)
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            pass
        except Exception:  # a malformed message from the browser: end this session only
            pass
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
        with open(partial, "wb") as out:
            while chunk := await part.read_chunk(1 << 16):
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    break
                out.write(chunk)
        if size > MAX_UPLOAD_BYTES:
            os.unlink(partial)
            return page(
                "Too large", f"A checkpoint here is at most {MAX_UPLOAD_BYTES // 2**20} MB.", 413
            )
        os.replace(partial, final)  # the app sees the whole file or none
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
    return min(max(value, 10), 500)


class _quiet:
    """Ignore a websocket that went away meanwhile."""

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb) -> bool:
        return kind is not None and issubclass(kind, (ConnectionError, RuntimeError))
