"""smisk.ipc: the local shared dict (SQLite in a private directory, lock
based clearing) and the memcached one (against a memcached started by the
test on a unix socket). Each test named after a P-n would have caught that
bug of the original."""

import json
import multiprocessing
import os
import pickle
import stat
import subprocess
import sys

import pytest

from servers import Memcached

import smisk.ipc
from smisk.ipc import bsddb, privdir


def test_P72_smisk_ipc_shared_dict_exists(tmp_path):
    home = tmp_path / "home"
    d = smisk.ipc.shared_dict(homedir=str(home))
    assert isinstance(d, bsddb.DBDict)
    d["a"] = 1
    assert smisk.ipc.shared_dict(homedir=str(home)) is d  # one object per file per process
    d.close()


def test_dict_api_repr_and_json(tmp_path):
    d = bsddb.shared_dict(homedir=str(tmp_path / "h"))
    d["x"] = {"n": [1, 2]}
    d[b"raw"] = "bytes key"
    d["zero"] = 0
    assert d["x"] == {"n": [1, 2]} and d[b"raw"] == "bytes key" and "zero" in d and "nope" not in d
    assert len(d) == 3 and set(d) == {"x", b"raw", "zero"} and d.get("nope", 5) == 5
    assert eval(repr(d)) == {"x": {"n": [1, 2]}, b"raw": "bytes key", "zero": 0}  # reads back as a dict
    from smisk.serialization.json import json_encode

    del d[b"raw"]
    assert json.loads(json_encode(d)) == {"x": {"n": [1, 2]}, "zero": 0}
    with pytest.raises(KeyError):
        del d["nope"]
    with pytest.raises(TypeError):
        d[1] = 2
    d.sync()
    d.clear()
    assert len(d) == 0
    d.close()


def test_P11_directory_is_private_and_checked(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    home = privdir.default_home("some-app")
    st = os.lstat(home)
    assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.geteuid()
    assert os.path.dirname(home) != "/tmp" and stat.S_IMODE(os.lstat(os.path.dirname(home)).st_mode) == 0o700
    os.rmdir(home)
    d = bsddb.shared_dict(homedir=str(tmp_path / "new"))  # an explicit homedir is created 0700
    assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(d.path).st_mode) == 0o600
    d.close()
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    with pytest.raises(PermissionError):
        bsddb.shared_dict(homedir=str(loose))
    target = tmp_path / "target"
    target.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(PermissionError):
        bsddb.shared_dict(homedir=str(tmp_path / "link"))
    if os.geteuid() == 0:
        foreign = tmp_path / "foreign"
        foreign.mkdir(mode=0o700)
        os.chown(foreign, 65534, 65534)
        with pytest.raises(PermissionError):
            bsddb.shared_dict(homedir=str(foreign))
    # A runtime dir that is not ours is skipped.
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(loose))
    assert not privdir.default_home("other-app").startswith(str(loose))


OPENER = """
import sys, time
from smisk.ipc import bsddb
d = bsddb.shared_dict(homedir=sys.argv[1], persistent=sys.argv[2] == "1")
print(sorted(d.items()), flush=True)
d["child"] = 1
"""


def _open_in_child(home, persistent=False):
    out = subprocess.run([sys.executable, "-c", OPENER, str(home), "1" if persistent else "0"], capture_output=True,
                         text=True, timeout=60, check=True)
    return out.stdout.strip()


def test_P11_cleared_only_when_nobody_else_has_it_open(tmp_path):
    home = tmp_path / "h"
    d = bsddb.shared_dict(homedir=str(home))
    d["kept"] = "yes"
    # Another process opens it while we hold it: nothing is cleared.
    assert _open_in_child(home) == "[('kept', 'yes')]"
    assert d["child"] == 1
    d.close()
    # Nobody has it open: the next opener starts empty ...
    assert _open_in_child(home) == "[]"
    # ... unless persistent.
    assert _open_in_child(home, persistent=True) == "[('child', 1)]"


def _bump(path, worker, n):
    d = bsddb.shared_dict(filename=path, persistent=True)
    for i in range(n):
        d[f"w{worker}:{i}"] = i
        d[f"last{worker}"] = i


def test_processes_share_it_concurrently(tmp_path):
    home = tmp_path / "h"
    home.mkdir(mode=0o700)
    path = str(home / "db.sqlite")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_bump, args=(path, w, 150)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    d = bsddb.shared_dict(filename=path, persistent=True)
    assert len(d) == 4 * 151 and all(d[f"last{w}"] == 149 for w in range(4))
    d.close()


def test_json_values(tmp_path):
    d = bsddb.shared_dict(homedir=str(tmp_path / "j"), serializer="json")
    d["a"] = {"b": [1, None]}
    assert d["a"] == {"b": [1, None]}
    with pytest.raises(TypeError):
        d["obj"] = object()
    d.close()


# --- memcached -----------------------------------------------------------------

pytestmark_mc = pytest.mark.skipif(not Memcached.available(), reason="no memcached")


@pytest.fixture
def mc(tmp_path):
    server = Memcached(tmp_path)
    yield server
    server.stop()


@pytestmark_mc
def test_P12_memcached_dict(mc):
    from smisk.ipc.memcached import MCDict, shared_dict

    d = shared_dict(name="app1:", nodes=[mc.address])
    assert isinstance(d, MCDict) and shared_dict(name="app1:", nodes=[mc.address]) is d
    for falsy in (0, "", [], {}, False, None):
        d["k"] = falsy
        assert "k" in d and d["k"] == falsy  # `in` is true for falsy values
    with pytest.raises(KeyError):
        d["missing"]
    assert "missing" not in d and d.get("missing", 7) == 7
    for hostile in ("with space", "ctl\r\nset x 0 0 1", "x" * 400, "ünïcode", b"\x00bytes"):
        d[hostile] = hostile if isinstance(hostile, str) else "b"
        assert d[hostile] == (hostile if isinstance(hostile, str) else "b")
    del d["k"]
    with pytest.raises(KeyError):
        del d["k"]
    for op in (len, list, lambda x: x.keys(), lambda x: x.items(), lambda x: x.values()):
        with pytest.raises(NotImplementedError):
            op(d)
    # JSON by default: a pickle planted by someone else is never unpickled.
    from pymemcache.client.base import Client

    raw = Client(mc.address, default_noreply=False)
    assert d._key("with space").startswith("app1:sha1:") and raw.get(d._key("with space")) is not None
    raw.set("app1:evil", pickle.dumps(Exception("pwned")))
    with pytest.raises(ValueError):
        d["evil"]
    # No prefix means none; opting into pickle works.
    p = shared_dict(nodes=[mc.address], serializer="pickle")
    p["obj"] = {1, 2}
    assert p["obj"] == {1, 2} and raw.get("obj") is not None
