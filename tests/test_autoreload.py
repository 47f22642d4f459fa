"""smisk.autoreload: a changed module restarts the server by executing it
again (single process and prefork: the supervisor stops every worker), a
changed configuration file is reloaded in the serving thread, module files
are found behind .pyc files and zip archives, and
main(autoreload=True) works."""

import importlib
import os
import re
import sys
import time
import zipfile

import pytest

import harness
import mvc_helpers as mh
from test_process import children

from smisk import autoreload

RELOAD_APP = harness.ROOT / "tests" / "apps" / "reload_app.py"


def test_P69_module_files_behind_pyc_and_zip(tmp_path, monkeypatch):
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("zipped_mod_smisk_test.py", "X = 1\n")
    monkeypatch.syspath_prepend(str(archive))
    mod = importlib.import_module("zipped_mod_smisk_test")
    assert autoreload.module_file(mod) == str(archive)
    (tmp_path / "plain_mod_smisk_test.py").write_text("Y = 1\n")

    class Fake:
        __file__ = str(tmp_path / "__pycache__" / "plain_mod_smisk_test.cpython-311.pyc")

    assert autoreload.module_file(Fake) == str(tmp_path / "plain_mod_smisk_test.py")
    Fake.__file__ = str(tmp_path / "plain_mod_smisk_test.pyc")
    assert autoreload.module_file(Fake) == str(tmp_path / "plain_mod_smisk_test.py")
    assert autoreload.module_file(sys) is None  # built-in


def test_monitor_sees_changed_and_deleted_modules(tmp_path, monkeypatch):
    src = tmp_path / "watched_mod_smisk_test.py"
    src.write_text("Z = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("watched_mod_smisk_test")
    r = autoreload.Autoreloader(match=re.compile(r"^watched_mod_smisk_test$"))
    assert r.check_modules() is None  # first sighting records
    assert r.check_modules() is None
    src.write_text("Z = 22\n")
    assert r.check_modules() == str(src)
    r = autoreload.Autoreloader(match=re.compile(r"^watched_mod_smisk_test$"))
    r.check_modules()
    src.unlink()
    assert r.check_modules() == str(src)
    other = autoreload.Autoreloader(match=re.compile(r"^nothing-matches$"))
    assert other.check_modules() is None and other._modules == {}


def setup_dir(tmp_path):
    d = tmp_path / "reload"
    d.mkdir()
    (d / "greeting.py").write_text('TEXT = "v1"\n')
    (d / "reload_app.conf").write_text('"reload_test": "one",\n"logging": {"levels": {"": INFO}},\n')
    return d


def start(tmp_path, d, args=(), env=None):
    sock = str(tmp_path / "reload.sock")
    p = harness.Process([harness.VENV_PYTHON, RELOAD_APP, "--bind", sock, *args],
                        env=dict(os.environ, RELOAD_DIR=str(d), **(env or {})), log=tmp_path / "reload.log")
    harness.wait_until(lambda: harness.can_connect(sock) or not p.alive(), what="reload app")
    assert p.alive(), p.log()
    p.address = sock
    return p


def ask(p):
    return mh.ask(p.address, "/").json


def wait_for(p, predicate, what, timeout=20):
    got = {}

    def check():
        try:
            got["a"] = ask(p)
        except OSError:
            return False
        return predicate(got["a"])

    harness.wait_until(check, timeout=timeout, what=what)
    return got["a"]


def bump(path, text):
    path.write_text(text)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


@pytest.mark.parametrize("via", ["option", "main(autoreload=True)"])
def test_P28_P69_changed_module_restarts_a_single_process(tmp_path, via):
    d = setup_dir(tmp_path)
    args, env = (["--autoreload"], None) if via == "option" else ((), {"RELOAD_VIA_MAIN": "1"})
    p = start(tmp_path, d, args, env)
    try:
        first = ask(p)
        assert first["greeting"] == "v1" and first["pid"] == p.pid
        bump(d / "greeting.py", 'TEXT = "v2"\n')
        after = wait_for(p, lambda a: a["greeting"] == "v2", "the restarted server")
        assert after["pid"] == p.pid  # executed again in place
        assert p.alive() and "restarting" in p.log()
    finally:
        assert p.stop() == 0, p.log()


def test_P69_changed_module_restarts_every_prefork_worker(tmp_path):
    d = setup_dir(tmp_path)
    p = start(tmp_path, d, ["--autoreload", "--forks", "2"])
    try:
        harness.wait_until(lambda: len(children(p.pid)) == 2, what="two workers")
        old_workers = children(p.pid)
        a = ask(p)
        assert a["greeting"] == "v1" and a["ppid"] == p.pid
        bump(d / "greeting.py", 'TEXT = "v2"\n')
        wait_for(p, lambda a: a["greeting"] == "v2", "restarted workers")
        harness.wait_until(lambda: len(children(p.pid)) == 2, what="two new workers")
        new_workers = children(p.pid)
        assert not (new_workers & old_workers)
        for _ in range(10):  # no worker of the old code is left
            a = ask(p)
            assert a["greeting"] == "v2" and a["ppid"] == p.pid
    finally:
        assert p.stop() == 0, p.log()


def test_P69_changed_config_is_reloaded_in_the_serving_thread(tmp_path):
    d = setup_dir(tmp_path)
    p = start(tmp_path, d, ["--autoreload", "--forks", "2"])
    try:
        assert ask(p)["setting"] == "one"
        bump(d / "reload_app.conf", '"reload_test": "two",\n')
        a = wait_for(p, lambda a: a["setting"] == "two", "the reloaded configuration")
        # Every worker applies it (each checks at most once a second).
        harness.wait_until(lambda: all(ask(p)["setting"] == "two" for _ in range(8)), timeout=20,
                           what="the reloaded configuration in every worker")
        assert a["filters_ran_in"] == ["MainThread"]
        assert a["pid"] in children(p.pid)  # no restart for a configuration change
    finally:
        assert p.stop() == 0, p.log()
