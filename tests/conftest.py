"""Tests never read or write the user's cache directory: the whole run (and every subprocess it
starts, whose environment is copied at import time) gets a temporary one, each test its own."""

import atexit
import os
import shutil
import tempfile

import pytest

_RUN_CACHE = tempfile.mkdtemp(prefix="rnn-tui-test-cache-")
os.environ["XDG_CACHE_HOME"] = _RUN_CACHE
atexit.register(shutil.rmtree, _RUN_CACHE, True)


@pytest.fixture(autouse=True)
def _own_cache_dir(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
