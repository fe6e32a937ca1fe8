"""The built-in corpora: small texts that need no download, made at run time."""

from __future__ import annotations

import ast
import codecs
import contextlib
import functools
import importlib
import importlib.abc
import importlib.util
import inspect
import io
import pkgutil
import sys
import warnings
from collections.abc import Iterable, Iterator

STDLIB_MAX_CHARS = 1_000_000  # the `stdlib` corpus stops at the last whole docstring under this

BUILTIN_CORPORA: dict[str, str] = {
    "abcde": "the lesson: 'abcde' repeated 200 times, five letters to learn in order",
    "alphabet": "'abcdefghijklmnopqrstuvwxyz ' repeated 100 times",
    "zen": "The Zen of Python (PEP 20), from the standard library's `this` module",
    "stdlib": "docstrings of the standard-library modules and their submodules, gathered at run time (about 1 MB)",
}

# Modules that open windows or browsers, print, touch the terminal, write caches or are tests.
_STDLIB_SKIP = frozenset(
    {
        "antigravity",
        "distutils",
        "ensurepip",
        "idlelib",
        "lib2to3",
        "readline",
        "rlcompleter",
        "test",
        "this",
        "tkinter",
        "turtle",
        "turtledemo",
    }
)
_STDLIB_SKIP_SUB = frozenset({"test", "tests", "idle_test"})  # test packages inside packages


def builtin_text(name: str) -> str:
    if name == "abcde":
        return "abcde" * 200
    if name == "alphabet":
        return "abcdefghijklmnopqrstuvwxyz " * 100
    if name == "zen":
        return _zen_text()
    return _stdlib_docstrings()


@functools.lru_cache(maxsize=1)
def _zen_text() -> str:
    """PEP 20 decoded from `this.s` with rot13 (`this.d`), without running `this` (it prints)."""
    scrambled = None
    if "this" in sys.modules:
        scrambled = sys.modules["this"].s
    else:
        spec = importlib.util.find_spec("this")
        loader = spec.loader if spec else None
        source = (
            loader.get_source("this") if isinstance(loader, importlib.abc.InspectLoader) else None
        )
        for node in ast.parse(source or "").body:
            if isinstance(node, ast.Assign) and any(
                getattr(t, "id", None) == "s" for t in node.targets
            ):
                scrambled = ast.literal_eval(node.value)
        if scrambled is None:  # no source shipped: import it, swallowing what it prints
            with contextlib.redirect_stdout(io.StringIO()):
                scrambled = importlib.import_module("this").s
    return codecs.decode(scrambled, "rot13")


@functools.lru_cache(maxsize=1)
def _stdlib_docstrings() -> str:
    """Module, class, function and method docstrings of the standard library's modules.

    Top-level modules in sorted name order, each followed by its submodules (depth first, in
    sorted order; private ones and test packages left out); members in sorted name order, each
    docstring once; only members defined in the module itself. Stops at STDLIB_MAX_CHARS.
    Deterministic for one Python installation.
    """
    pieces: list[str] = []
    seen: set[str] = set()
    total = 0

    def add(doc: object) -> bool:
        nonlocal total
        if not isinstance(doc, str):
            return True
        doc = inspect.cleandoc(doc).strip()
        if not doc or doc in seen:
            return True
        if total + len(doc) + 2 > STDLIB_MAX_CHARS:
            return False
        seen.add(doc)
        pieces.append(doc)
        total += len(doc) + 2
        return True

    names = [
        n
        for n in sorted(sys.stdlib_module_names)
        if not n.startswith(("_", "xx")) and n not in _STDLIB_SKIP
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for modname, module in _stdlib_modules(names):
            if not all(add(doc) for doc in _module_docs(module, modname)):
                break
    return "\n\n".join(pieces)


def _stdlib_modules(names: Iterable[str]) -> Iterator[tuple[str, object]]:
    """(name, module) for each name and, for packages, their public submodules, depth first.

    Imports swallow what they print; a module that cannot be imported here (e.g. Windows only)
    is left out with its submodules.
    """
    quiet = io.StringIO()
    for modname in names:
        try:
            with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
                module = importlib.import_module(modname)
        except Exception:
            continue
        yield modname, module
        path = getattr(module, "__path__", None)
        if path:
            subs = sorted(
                info.name
                for info in pkgutil.iter_modules(path)
                if not info.name.startswith("_") and info.name not in _STDLIB_SKIP_SUB
            )
            yield from _stdlib_modules(f"{modname}.{sub}" for sub in subs)


def _module_docs(module: object, modname: str) -> Iterator[object]:
    yield module.__doc__
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != modname:
            continue
        if inspect.isclass(obj):
            yield obj.__doc__
            for mname, member in sorted(vars(obj).items()):
                if not mname.startswith("_") and inspect.isroutine(member):
                    yield getattr(member, "__doc__", None)
        elif inspect.isroutine(obj):
            yield obj.__doc__
