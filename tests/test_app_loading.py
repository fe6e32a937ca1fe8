"""The loading screen for a big corpus: a first frame at once, progress while the worker reads,
the result (or the error) handed back, quitting cancels the read."""

from __future__ import annotations

import asyncio
import threading

import pytest

from rnn_tui.app.loading import CorpusLoading, LoadCancelled
from rnn_tui.engine import encoding
from rnn_tui.engine.corpus import load_corpus
from rnn_tui.engine.errors import CorpusError


async def until(condition, timeout: float = 30.0) -> None:
    async def poll():
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


@pytest.mark.asyncio
async def test_loading_screen_reads_with_progress_and_returns_the_corpus(tmp_path, monkeypatch):
    monkeypatch.setattr(encoding, "CHUNK_BYTES", 1000)
    path = tmp_path / "big.txt"
    path.write_text("the quick brown fox jumps over the lazy dog\n" * 2000)
    seen = []
    gate = threading.Event()

    def load(progress):
        gate.wait(30)  # the first frame is drawn before anything is read

        def spy(done, total):
            seen.append((done, total))
            progress(done, total)

        return load_corpus(str(path), progress=spy)

    app = CorpusLoading(str(path), load)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "reading" in str(app.query_one("#what").render()) and app.return_value is None
        gate.set()
        await until(lambda: app.return_value is not None)
    kind, corpus = app.return_value
    assert kind == "ok" and corpus.size == 44 * 2000
    assert len(seen) > 10 and seen[-1][0] == seen[-1][1]


@pytest.mark.asyncio
async def test_loading_screen_hands_back_the_error(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"caf\xe9")
    app = CorpusLoading(str(path), lambda progress: load_corpus(str(path), progress=progress))
    async with app.run_test(size=(80, 24)):
        await until(lambda: app.return_value is not None)
    kind, error = app.return_value
    assert kind == "error" and isinstance(error, CorpusError) and "not UTF-8" in str(error)


@pytest.mark.asyncio
async def test_quitting_cancels_the_read():
    stopped = threading.Event()

    def load(progress):
        try:
            while True:
                progress(0, 10)
                stopped.wait(0.01)
        except LoadCancelled:
            stopped.set()
            raise

    app = CorpusLoading("slow.txt", load)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("q")
        await until(lambda: app.return_value is not None)
    assert app.return_value[0] == "error" and isinstance(app.return_value[1], LoadCancelled)
    assert stopped.wait(30)


def test_app_command_reads_a_big_file_behind_the_loading_screen(tmp_path, monkeypatch):
    """`rnn-tui app --corpus BIG`: the corpus is read by the loading screen's worker (with
    progress), then the playground gets it; a small file or a built-in skips the screen."""
    import rnn_tui.app
    from rnn_tui.app import loading
    from rnn_tui.cli.main import main

    path = tmp_path / "big.txt"
    path.write_text("a big enough text\n" * 1000)
    screens, started, progress = [], [], []

    def fake_run(self, *args, **kwargs):  # the screen's worker, without a terminal
        screens.append(self.corpus_name)
        return ("ok", self.load(lambda done, total: progress.append((done, total))))

    monkeypatch.setattr(loading.CorpusLoading, "run", fake_run)
    monkeypatch.setattr(rnn_tui.app, "run_app", lambda corpus, *a, **k: started.append(corpus) or 0)
    monkeypatch.setattr(loading, "LOADING_MIN_BYTES", 10_000)
    assert main(["app", "--corpus", str(path)]) == 0
    assert (
        screens == [str(path)] and started[0].size == 18_000 and progress[-1][0] == progress[-1][1]
    )
    assert main(["app", "--corpus", "zen"]) == 0
    assert screens == [str(path)] and started[1].name == "zen"
