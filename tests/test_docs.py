"""README and docs/ stay true: every `rnn-tui` command line they show parses, every app key README
names is bound, README's key table is the app's command table, and every relative link leads to a
file. The parsers are checked on made-up wrong text too, so a check that finds nothing is seen."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path
from urllib.parse import unquote

import pytest

from rnn_tui.app.commands import (
    COMMANDS,
    command_bindings,
    ctrl_bindings,
    footer_bindings,
    key_display,
)
from rnn_tui.cli.main import make_parser

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"(?<!`)`([^`\n]+(?:\n[^`\n]+)?)`(?!`)")
COMMAND = re.compile(r"(?:^|(?<=[\s/'\"(]))rnn-tui(?=\s|$|['\"`)])")
BOX = re.compile("[\u2500-\u257f]")  # box-drawing characters: a diagram, not a command
STOP = {"|", "||", "&&", ";", ">", "2>", "&"}
KEY = re.compile(r"^(?:\^[a-z]|F\d{1,2}|esc|enter|space|tab|\?|[a-z])$")


# -- reading the pages ---------------------------------------------------------------------------
def code_texts(markdown: str) -> list[str]:
    """Each line of the fenced blocks (less its comment; diagrams left out) and each inline code
    span outside them."""
    lines = [
        line.split(" #", 1)[0] for block in FENCE.findall(markdown) for line in block.splitlines()
    ]
    lines = [line for line in lines if not BOX.search(line)]
    prose = FENCE.sub("", markdown)
    return lines + [" ".join(span.split()) for span in INLINE.findall(prose)]


def command_lines(markdown: str) -> list[list[str]]:
    """The words after each `rnn-tui` in code, up to a comment or a shell operator."""
    found = []
    for text in code_texts(markdown):
        for match in COMMAND.finditer(text):
            rest = text[match.end() :]
            try:
                words = shlex.split(rest, comments=True)
            except ValueError:  # an unclosed quote: the command sits inside a longer quoted string
                words = shlex.split(rest.replace("'", ""), comments=True)
            kept = []
            for w in words:
                if w in STOP or re.match(r"^\d?[<>]", w):
                    break
                kept.append(w)
            found.append(kept)
    return found


def key_mentions(markdown: str) -> set[str]:
    return {span for span in INLINE.findall(FENCE.sub("", markdown)) if KEY.match(span)}


def cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def key_table(markdown: str) -> list[tuple[str, str]]:
    """README's table under '## Keys': (command-mode key, typing-mode key) per row."""
    section = markdown.split("\n## Keys", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        row = cells(line)
        if len(row) >= 3 and row[0].startswith("`"):
            rows.append((row[0].strip("`"), row[1].strip("`")))
    return rows


def relative_links(markdown: str) -> list[str]:
    targets = re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", markdown)
    targets += re.findall(r"^\[[^\]]+\]:\s*(\S+)", markdown, re.M)
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


# -- what exists -------------------------------------------------------------------------------
def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = make_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def top_level_flags() -> set[str]:
    return {s for a in make_parser()._actions for s in a.option_strings}


def command_problems(words: list[str], parsers: dict[str, argparse.ArgumentParser]) -> list[str]:
    """What is wrong with `rnn-tui WORDS`: an unknown command or a flag it does not take."""
    if words and words[0] in top_level_flags():
        return []
    name = "app"
    if words and not words[0].startswith("-"):
        name = words[0]
        if name not in parsers:
            return [f"no command {name!r}"]
        words = words[1:]
    flags = {s for a in parsers[name]._actions for s in a.option_strings}
    return [
        f"{name} has no {w.split('=')[0]}"
        for w in words
        if w.startswith("--") and w.split("=")[0] not in flags
    ]


def bound_keys() -> set[str]:
    """Every key the main screen binds, as README writes it, plus Textual's command palette."""
    from textual.app import App

    keys = {key_display(c.key) for c in COMMANDS} | {key_display(c.ctrl) for c in COMMANDS}
    for binding in [*command_bindings(), *ctrl_bindings(), *footer_bindings()]:
        keys |= {key_display(k.strip()) for k in binding.key.split(",")}
    keys.add(key_display(App.COMMAND_PALETTE_BINDING))
    keys.add(key_display("escape"))  # the input's own binding: leave typing for command mode
    return keys


# -- the checks --------------------------------------------------------------------------------
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_command_line_names_a_real_command_and_real_flags(page):
    parsers = subcommands()
    lines = command_lines(page.read_text(encoding="utf-8"))
    problems = [f"rnn-tui {' '.join(w)}: {p}" for w in lines for p in command_problems(w, parsers)]
    assert not problems, problems


def test_readme_shows_the_commands():
    lines = command_lines(README.read_text(encoding="utf-8"))
    named = {w[0] for w in lines if w and not w[0].startswith("-")}
    assert named >= {"train", "predict", "sample", "eval", "compare", "series", "bench", "serve"}


def test_readme_keeps_the_two_commands_ci_runs():
    text = README.read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    run_tests = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]' && .venv/bin/python -m pytest"
    assert "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/rnn-tui" in text
    assert run_tests in text and run_tests in ci


def options_table() -> list[str]:
    """README's table of the model and training flags, as the option registry has them."""
    from rnn_tui.cli.options import SWITCHES
    from rnn_tui.engine.options import OPTIONS

    def shown(value: object) -> str:
        return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)

    rows = ["| option | default | what, and the values allowed |", "| --- | --- | --- |"]
    for option in OPTIONS.values():
        if option.flag:
            rows.append(f"| `{option.cli_flag}` | {shown(option.default)} | {option.describe()} |")
            if option.name in SWITCHES:
                flag, _, _, help_text = SWITCHES[option.name]
                rows.append(f"| `{flag}` | | {help_text} |")
    return rows


def test_readme_options_table_is_the_option_registry():
    lines = README.read_text(encoding="utf-8").splitlines()
    start = lines.index(options_table()[0])
    shown = lines[start : lines.index("", start)]
    expected = options_table()
    assert [cells(row) for row in shown] == [cells(row) for row in expected], (
        "README's options table should read:\n" + "\n".join(expected)
    )


def test_readme_key_table_is_the_command_table():
    rows = key_table(README.read_text(encoding="utf-8"))
    table = [(key_display(c.key), key_display(c.ctrl)) for c in COMMANDS]
    assert sorted(rows) == sorted(table)


def test_every_key_readme_names_is_bound():
    named = key_mentions(README.read_text(encoding="utf-8"))
    assert named, "README names no keys: the pattern no longer finds them"
    assert not named - bound_keys(), named - bound_keys()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_leads_to_a_file(page):
    text = page.read_text(encoding="utf-8")
    missing = []
    for target in relative_links(text):
        path = unquote(target.split("#", 1)[0])
        if path and not (page.parent / path).exists():
            missing.append(target)
    assert not missing, missing


REPO_PATH = re.compile(r"^(?:rnn_tui|tests|benchmarks|docs)/[\w./-]*$")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_file_of_the_repository_named_in_code_exists(page):
    words = [
        w.strip("'\"(),:;") for t in code_texts(page.read_text(encoding="utf-8")) for w in t.split()
    ]
    named = [w for w in words if REPO_PATH.match(w)]
    assert not [t for t in named if not (ROOT / t).exists()], named


def test_readme_is_a_guide_not_a_notebook():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 150


# -- the checks can fail -----------------------------------------------------------------------
WRONG = """
```
rnn-tui trian --corpus zen
rnn-tui train --hiden 8   # a typo; rnn-tui nonsense in a comment is not a command
```
Then `rnn-tui predict x.npz "a" --topp 3`, press `j`, and read [the guide](docs/nowhere.md).

## Keys

| command mode | typing mode | what |
| --- | --- | --- |
| `x` | `^x` | nothing |
"""


def test_the_checks_see_wrong_text():
    parsers = subcommands()
    problems = [p for w in command_lines(WRONG) for p in command_problems(w, parsers)]
    assert problems == ["no command 'trian'", "train has no --hiden", "predict has no --topp"]
    assert key_mentions(WRONG) - bound_keys() == {"j", "x", "^x"}
    assert key_table(WRONG) == [("x", "^x")]
    assert relative_links(WRONG) == ["docs/nowhere.md"]
    assert not (ROOT / "docs/nowhere.md").exists()
    assert REPO_PATH.match("rnn_tui/engine/nowhere.py") and not REPO_PATH.match("stdlib.npz")
