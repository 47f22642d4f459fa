import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def built_programs():
    harness.build_programs()


@pytest.fixture
def app(tmp_path):
    p = harness.start_app(tmp_path)
    yield p
    p.stop()


@pytest.fixture
def app_factory(tmp_path):
    started = []

    def start(**kw):
        p = harness.start_app(kw.pop("tmp", tmp_path), **kw)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


@pytest.fixture
def nginx_factory(tmp_path):
    started = []

    def start(upstream, **kw):
        n = harness.Nginx(tmp_path, upstream, **kw)
        started.append(n)
        return n

    yield start
    for n in started:
        n.stop()
