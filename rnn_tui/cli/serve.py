"""`rnn-tui serve`: the playground in a web browser through textual-serve, one app process a tab.

Its options, the page and the server; who may start a session, and how many, is serve_gate.py.
(Over 400 lines: most of it is the page's template and the options of a public demo.)
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from rnn_tui.cli.common import positive_int

WEB_EXTRA = "pip install 'rnn-tui[web]'"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_IDLE_MINUTES = 15.0
DEFAULT_CAPS = {"hidden": 256, "layers": 2, "batch": 32}  # (app/public.py has the same defaults)
TEMPLATE = "app_index.html"  # textual-serve's page template, the one Server renders at "/"

# Tags that would make the browser fetch something from another host: textual-serve's template
# links a Google Fonts stylesheet although the package ships the font. They are dropped.
_EXTERNAL_TAG = re.compile(
    r"""<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?//[^>]*>"""
    r"""|<script\b[^>]*\bsrc\s*=\s*["']?(?:https?:)?//[^>]*>\s*</script\s*>""",
    re.I,
)
# Relative URLs in place of the absolute ones textual-serve builds from --host and --port, so the
# page also works through an SSH tunnel on another port, by another host name, or on 0.0.0.0.
_RELATIVE = (
    ("{{ config.static.url }}", "static/"),
    ('data-session-websocket-url="{{ app_websocket_url }}"', 'data-session-websocket-url=""'),
)
_FONTS = (  # the Roboto Mono that textual-serve ships in static/fonts, and xterm.js asks for
    ("RobotoMono-VariableFont_wght.ttf", "normal"),
    ("RobotoMono-Italic-VariableFont_wght.ttf", "italic"),
)
_HEAD = """
    <title>{{ application.name }}</title>
    %(preload)s
    <style>
%(faces)s
    </style>
    <script>
      // Start the terminal once its font is ready: xterm.js measures the cell size and draws
      // its glyph atlas when it opens, so a font arriving later would leave the fallback's metrics.
      (function () {
        var start = window.onload;
        if (typeof start !== "function" || !document.fonts) return;
        window.onload = function (event) {
          var fonts = Promise.all([
            document.fonts.load('16px "Roboto Mono"'),
            document.fonts.load('bold 16px "Roboto Mono"'),
          ]);
          var timeout = new Promise(function (resolve) { setTimeout(resolve, 2000); });
          Promise.race([fonts, timeout]).catch(function () {}).then(function () {
            start.call(window, event);
          });
        };
      })();
    </script>
"""
_BODY_END = """
    <script>
      // The websocket of this page's own address: right however the browser reached the server.
      // Its path holds the place the server keeps for this page (see cli/serve_gate.py).
      (function () {
        var url = new URL({{ websocket_path|tojson }}, window.location.href);
        url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
        url.search = "";
        document.querySelectorAll(".textual-terminal").forEach(function (el) {
          if (!el.dataset.sessionWebsocketUrl) el.dataset.sessionWebsocketUrl = url.href;
        });
      })();
    </script>
"""


def register(subparsers) -> None:
    app_parser = subparsers.choices.get("app")
    p = subparsers.add_parser(
        "serve",
        help="the playground in a web browser (needs the 'web' extra: textual-serve)",
        description="Serve the playground over HTTP: each browser tab that opens the page gets its "
        "own app process, started with this Python interpreter and the app options given here. "
        "The page needs nothing from the internet. Binds 127.0.0.1 unless told otherwise. The URL "
        "printed at start carries an access token; at most --max-sessions tabs run at once (the "
        "others get a 'try again in a minute' page) and idle ones are closed. On any other "
        "address public mode is on unless --trust-network is given: visitors then type no path "
        "and the costly settings have caps (see 'public mode' below).",
        parents=[app_parser] if app_parser is not None else [],
        add_help=app_parser is None,  # the app parser's -h/--help comes with it
    )
    server = p.add_argument_group("server")
    server.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}: this machine only); "
        "any other address implies --public unless --trust-network is given",
    )
    server.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})"
    )
    token = server.add_mutually_exclusive_group()
    token.add_argument(
        "--token",
        type=_token,
        help="the access token visitors need in the URL (default: a random one, "
        "printed with the URL at start)",
    )
    token.add_argument(
        "--no-token",
        action="store_true",
        help="no access token: anyone who can reach the port may start a session",
    )
    server.add_argument(
        "--max-sessions",
        type=positive_int("--max-sessions"),
        default=None,
        help="browser tabs running at once (default: the number of cores); "
        "a visitor beyond it gets a 'try again in a minute' page",
    )
    server.add_argument(
        "--idle-minutes",
        type=_minutes,
        default=DEFAULT_IDLE_MINUTES,
        help=f"close a session after this many minutes without a key "
        f"(default {DEFAULT_IDLE_MINUTES:g})",
    )
    public = p.add_argument_group(
        "public mode",
        "For visitors you do not know: no path is typed in the app; corpora are "
        "the built-ins and those named here; save is a download to the visitor's browser, load "
        "an upload; the costly settings have caps.",
    )
    mode = public.add_mutually_exclusive_group()
    mode.add_argument("--public", action="store_true", help="public mode, on any address")
    mode.add_argument(
        "--trust-network",
        action="store_true",
        help="no public mode on a non-local --host (every visitor may read and write "
        "files as this user)",
    )
    public.add_argument(
        "--offer-corpus",
        action="append",
        default=[],
        metavar="FILE",
        help="a text file visitors may train on (repeat for more; --corpus is offered too)",
    )
    for name, cap in DEFAULT_CAPS.items():
        public.add_argument(
            f"--max-{name}",
            type=positive_int(f"--max-{name}"),
            default=cap,
            help=f"the largest {name} a visitor may set (default {cap})",
        )
    public.add_argument("--no-download", action="store_true", help="no save (download) in the app")
    public.add_argument("--no-upload", action="store_true", help="no load (upload) in the app")
    forwarded = app_parser._actions if app_parser is not None else []  # noqa: SLF001
    p.set_defaults(run=run, _app_actions=[a for a in forwarded if a.dest != "help"])


def _token(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{8,128}", text):
        raise argparse.ArgumentTypeError("--token must be 8 to 128 letters, digits, '-' or '_'")
    return text


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--idle-minutes must be a number (got {text!r})"
        ) from None
    if not 0 < value <= 7 * 24 * 60:
        raise argparse.ArgumentTypeError(
            f"--idle-minutes must be above 0 and at most a week (got {text})"
        )
    return value


def is_local(host: str) -> bool:
    """Whether only this machine can reach `host`."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def public_policy(args: argparse.Namespace):
    """The public-mode policy the options ask for, or None (not public)."""
    from rnn_tui.app.public import PublicPolicy

    if not (args.public or (not is_local(args.host) and not args.trust_network)):
        return None
    offered = [*args.offer_corpus, *([args.corpus] if getattr(args, "corpus", None) else [])]
    return PublicPolicy.with_corpora(
        offered,
        max_hidden=args.max_hidden,
        max_layers=args.max_layers,
        max_batch=args.max_batch,
        save=not args.no_download,
        load=not args.no_upload,
    )


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--port must be a whole number (got {text!r})") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"--port must be from 1 to 65535 (got {value})")
    return value


def app_arguments(args: argparse.Namespace) -> list[str]:
    """The `rnn-tui app` options given to `serve`, as command-line words to pass on."""
    words: list[str] = []
    for action in getattr(args, "_app_actions", ()):
        value = getattr(args, action.dest, action.default)
        if value == action.default or not action.option_strings:
            continue
        option = action.option_strings[-1]  # the long form
        if action.nargs == 0:  # store_true / store_false / store_const
            words.append(option)
        elif isinstance(value, (list, tuple)):
            words += [option, *map(str, value)]
        else:
            words.append(f"{option}={value}")  # one word: a value may start with '-'
    return words


def app_command(args: argparse.Namespace) -> str:
    """The shell command textual-serve runs for each browser tab."""
    argv = [sys.executable, "-m", "rnn_tui", "app", *app_arguments(args)]
    if os.name == "posix":
        # Ctrl+C in the server's terminal reaches the whole process group: the apps ignore it and
        # the server quits them itself, tab by tab (no tracebacks, no "interrupted" lines). exec:
        # the app is the process textual-serve talks to, with no shell in between.
        return "trap '' INT; exec " + shlex.join(argv)
    return subprocess.list2cmdline(argv)


def page_template(upstream: str) -> str:
    """textual-serve's page with nothing fetched from other hosts and relative URLs."""
    page = _EXTERNAL_TAG.sub("", upstream)
    for old, new in _RELATIVE:
        page = page.replace(old, new)
    preload = (  # the upright face only: the app uses no italics, so that one loads on demand
        f'<link rel="preload" href="static/fonts/{_FONTS[0][0]}" as="font" type="font/ttf" crossorigin />'
    )
    faces = "\n".join(
        f'      @font-face {{ font-family: "Roboto Mono"; font-style: {style}; '
        f"font-weight: 100 700; font-display: block; "
        f'src: url("static/fonts/{name}") format("truetype"); }}'
        for name, style in _FONTS
    )
    head = _HEAD % {"preload": preload, "faces": faces}
    if re.search(r"<title\b", page, re.I):
        head = head.replace("<title>{{ application.name }}</title>", "", 1)
    page = page.replace("</head>", head + "  </head>", 1)
    return page.replace("</body>", _BODY_END + "  </body>", 1)


def _write_template(server_module_file: str, directory: Path) -> Path | None:
    """Our page template in `directory`, or None when textual-serve's own cannot be read."""
    upstream = Path(server_module_file).parent / "templates" / TEMPLATE
    try:
        text = upstream.read_text(encoding="utf-8")
    except OSError:
        return None
    (directory / TEMPLATE).write_text(page_template(text), encoding="utf-8")
    return directory


def _url(host: str, port: int) -> str:
    shown = "localhost" if host in ("", "0.0.0.0", "::") else host
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def _check_setup(args: argparse.Namespace, policy) -> None:
    """Fail here, with one error line, on options that would fail in every browser tab."""
    from rnn_tui.cli.common import build_setup
    from rnn_tui.engine.checkpoint import load_checkpoint
    from rnn_tui.engine.corpus import load_corpus

    checkpoint = load_checkpoint(args.load) if getattr(args, "load", None) else None
    _, model_config, train_config, _ = build_setup(args, checkpoint)
    if policy is not None:
        policy.check(model_config, train_config)  # the operator's own start is within the caps
        for path in args.offer_corpus:
            load_corpus(path)  # a visitor would meet the error otherwise


def run(args: argparse.Namespace) -> int:
    import asyncio
    import secrets
    import tempfile

    from rnn_tui.engine.errors import RnnTuiError

    try:
        import aiohttp_jinja2
        import textual_serve.server as ts

        from rnn_tui.cli import serve_gate
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing in ("textual_serve", "aiohttp", "aiohttp_jinja2", "jinja2"):
            raise RnnTuiError(f"'rnn-tui serve' needs textual-serve: {WEB_EXTRA}") from None
        raise
    policy = public_policy(args)
    _check_setup(args, policy)
    _check_address(args.host, args.port)
    token = None if args.no_token else (args.token or secrets.token_urlsafe(12))
    gate = serve_gate.Gate(
        token,
        args.max_sessions or os.cpu_count() or 1,
        args.idle_minutes * 60,
        policy,
        upload=not args.no_upload,
    )
    url = _url(args.host, args.port)
    command = app_command(args)

    class Server(serve_gate.GateRoutes, ts.Server):
        def __init__(self, *a, **kw) -> None:
            super().__init__(*a, **kw)
            self.gate = gate
            self.tabs: set[asyncio.Task] = set()  # the websocket handlers of open browser tabs

        def initialize_logging(self) -> None:
            super().initialize_logging()
            for handler in logging.getLogger().handlers:  # the access log among them
                handler.addFilter(serve_gate.RedactSecrets(token))
                # An unforeseen error's traceback without its local variables: they hold the
                # request's URL and the session's secrets, which the filter cannot see there.
                if hasattr(handler, "tracebacks_show_locals"):
                    handler.tracebacks_show_locals = False

        async def _make_app(self):
            app = await super()._make_app()
            self.add_gate_routes(app)
            return app

        async def handle_index(self, request):
            ticket, refusal = await self.gate_index(request)
            if refusal is not None:
                return refusal
            context = {  # what our template uses of textual-serve's (its URLs are relative)
                "font_size": serve_gate._size(request.query.get("fontsize"), 16),
                "application": {"name": self.title},
                "config": {"static": {"url": "static/"}},
                "app_websocket_url": "",
                "websocket_path": f"ws/{ticket}",
            }
            response = aiohttp_jinja2.render_template(TEMPLATE, request, context)
            response.headers["Cache-Control"] = "no-store"  # a ticket is good for one page load
            return response

        async def handle_websocket(self, request):
            task = asyncio.current_task()
            assert task is not None  # (a coroutine always runs in one)
            self.tabs.add(task)
            try:
                return await super().handle_websocket(request)
            finally:
                self.tabs.discard(task)

        async def on_shutdown(self, app) -> None:
            # Ctrl+C: end each tab's session now. textual-serve leaves them open, and aiohttp then
            # waits up to a minute for them before it exits. Cancelled, each handler tells its app
            # to quit and waits for it (killing it if it does not go).
            tabs = list(self.tabs)
            for task in tabs:
                task.cancel()
            if tabs:
                await asyncio.wait(tabs, timeout=10)

        async def on_startup(self, app) -> None:  # textual-serve's hook; replaces its banner
            link = f"{url}/?token={token}" if token else url
            where = f"[bold]{link}[/]"
            if args.host in ("", "0.0.0.0", "::"):
                where = f"every address of this machine, port {args.port} (here: {where})"
            mode = (
                "public mode"
                if policy is not None
                else "trusted mode: visitors may read and write files"
            )
            self.console.print(
                f"rnn-tui: serving the playground on {where} "
                f"({mode}; at most {gate.max_sessions} tabs at once, each its own app; "
                "Ctrl+C stops the server)",
                highlight=False,
                soft_wrap=True,
            )

    with tempfile.TemporaryDirectory(prefix="rnn-tui-serve-") as tmp:
        templates = _write_template(ts.__file__, Path(tmp))
        if templates is None:  # the gate's tickets ride in our page: no page, no server
            raise RnnTuiError(
                f"textual-serve's page template was not found: reinstall it ({WEB_EXTRA})"
            )
        server = Server(
            command,
            host=args.host,
            port=args.port,
            title="rnn-tui",
            public_url=url,
            templates_path=templates,
        )
        try:
            server.serve()
        except OSError as exc:  # (taken since _check_address let go of it)
            raise _cannot_serve(args.host, args.port, exc) from None
        finally:
            gate.close()
    return 0


def _check_address(host: str, port: int) -> None:
    """Bind `host`:`port` and let go, as the server will: aiohttp announces the server (our
    on_startup) before it binds, so a bad address would be announced, then refused."""
    import socket

    try:
        found = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise _cannot_serve(host, port, exc) from None
    for family, kind, proto, _, address in set(found):
        try:
            sock = socket.socket(family, kind, proto)
        except OSError:  # a family this system lacks: asyncio skips it too
            continue
        with sock:
            try:
                if os.name == "posix":  # as asyncio's server: a port in TIME_WAIT is free
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
            except OSError as exc:
                raise _cannot_serve(host, port, exc) from None


def _cannot_serve(host: str, port: int, exc: OSError):
    """The one-line error for an address the server cannot listen on."""
    import socket

    from rnn_tui.engine.errors import RnnTuiError

    if isinstance(exc, socket.gaierror):
        reason = f"cannot resolve {host!r} ({exc.strerror or exc})"
    else:
        reason = {
            errno.EADDRINUSE: f"port {port} is in use: choose another with --port",
            errno.EADDRNOTAVAIL: f"{host!r} is not an address of this machine",
            errno.EACCES: f"no permission to listen on port {port}: use one above 1023",
        }.get(exc.errno or 0, exc.strerror or str(exc))
    return RnnTuiError(f"cannot serve on {host}:{port}: {reason}")
