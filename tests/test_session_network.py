"""Sessions on memcached and Redis (smisk.session.memcached,
smisk.session.redis): each server is started by the test on a unix socket
in a temp dir. The stores plug into Application.sessions like the file
store: the same ids, framing and ttl (all decided by smisk.core), a
tampered or foreign value is "no session", and a server that is down
leaves every request answered, without its session."""

import logging
import marshal
import pickle
import time

import pytest

import harness
from session_net_helpers import PREFIX, Client, raw_client, start_server, start_session_app, store_for
from servers import Memcached, Redis

import smisk.core as core

KINDS = [pytest.param("memcached", marks=pytest.mark.skipif(not Memcached.available(), reason="no memcached")),
         pytest.param("redis", marks=pytest.mark.skipif(not Redis.available(), reason="no redis-server"))]


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """One memcached and one redis-server for the module's store-level tests."""
    started = {}
    try:
        for kind, cls in (("memcached", Memcached), ("redis", Redis)):
            if cls.available():
                started[kind] = start_server(kind, tmp_path_factory.mktemp(kind))
        yield started
    finally:
        for s in started.values():
            s.stop()


@pytest.fixture(params=KINDS)
def kv(request, running):
    kind = request.param
    address = running[kind].address
    return kind, store_for(kind, address), raw_client(kind, address)


def test_round_trip_refresh_destroy(kv):
    kind, store, raw = kv
    sid = core.uid()
    with pytest.raises(core.InvalidSessionError):
        store.read(sid)
    store.write(sid, {"user": "alice", "n": [1, 2, 3]})
    assert store.read(sid) == {"user": "alice", "n": [1, 2, 3]}
    # What the server holds is the file store's frame of the marshal bytes.
    held = raw.get(PREFIX + sid)
    assert core.session_unframe(sid, held) == marshal.dumps({"user": "alice", "n": [1, 2, 3]})
    store.refresh(sid)
    store.destroy(sid)
    store.destroy(sid)  # missing: no error
    assert raw.get(PREFIX + sid) is None
    with pytest.raises(core.InvalidSessionError):
        store.refresh(sid)
    assert isinstance(store, core.KeyValueSessionStore) and store.ttl == 900 and store.name == "SID"


def test_ids_are_checked_before_the_server_is_asked(kv):
    kind, store, raw = kv
    calls = []
    for name in ("kv_get", "kv_set", "kv_touch", "kv_delete"):
        orig = getattr(store, name)
        setattr(store, name, lambda *a, _o=orig, _n=name: calls.append(_n) or _o(*a))
    for bad in ["", "../../etc/passwd", "0" * 31, "0" * 33, "W" * 32, "x\r\nSet-Cookie: a=b", "0" * 10000,
                "sid with spaces 0123456789abcdef"]:
        for op in (store.read, store.refresh, store.destroy, lambda s: store.write(s, {})):
            with pytest.raises(core.InvalidSessionError):
                op(bad)
    assert calls == []


@pytest.mark.parametrize("how", ["bit flip", "truncated", "extended", "pickle", "marshal", "empty", "other id"])
def test_tampered_or_foreign_values_are_no_session(kv, how):
    kind, store, raw = kv
    sid, other = core.uid(), core.uid()
    store.write(sid, {"user": "alice"})
    good = raw.get(PREFIX + sid)
    planted = {
        "bit flip": good[:25] + bytes([good[25] ^ 1]) + good[26:],
        "truncated": good[:-1],
        "extended": good + b"\0",
        "pickle": pickle.dumps({"user": "root"}),
        "marshal": marshal.dumps({"user": "root"}),
        "empty": b"",
        "other id": core.session_frame(other, marshal.dumps({"user": "root"})),
    }[how]
    raw.set(PREFIX + sid, planted)
    with pytest.raises(core.InvalidSessionError):
        store.read(sid)


def test_ttl_is_the_lifetime_since_the_last_write_or_refresh(kv):
    kind, store, raw = kv
    store.ttl = 3
    sid = core.uid()
    store.write(sid, "x")
    time.sleep(1.5)
    store.refresh(sid)  # now lives ≥ 2 s more (memcached counts whole seconds)
    time.sleep(1.5)
    assert store.read(sid) == "x"
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        try:
            store.read(sid)
        except core.InvalidSessionError:
            break
        time.sleep(0.2)
    else:
        pytest.fail("session did not expire")
    with pytest.raises(core.InvalidSessionError):
        store.refresh(sid)  # an expired session is not brought back
    assert raw.get(PREFIX + sid) is None


def test_ttl_zero_and_long_ttls(kv):
    kind, store, raw = kv
    sid = core.uid()
    store.write(sid, "old")
    store.ttl = 0
    store.write(sid, "new")  # gone at once, as in the file store
    with pytest.raises(core.InvalidSessionError):
        store.refresh(sid)
    store.ttl = 900
    with pytest.raises(core.InvalidSessionError):
        store.read(sid)
    store.ttl = 40 * 24 * 3600  # beyond memcached's 30-day relative limit
    store.write(sid, "long")
    store.refresh(sid)
    assert store.read(sid) == "long"
    store.ttl = 2 ** 40
    store.write(sid, "longer")
    assert store.read(sid) == "longer"


def test_memcached_expiry_mapping():
    from smisk.session.memcached import expiry

    assert expiry(1) == 1 and expiry(30 * 24 * 3600) == 30 * 24 * 3600
    assert expiry(30 * 24 * 3600 + 1, now=1000.0) == 1000 + 30 * 24 * 3600 + 1
    assert expiry(2 ** 40, now=1000.0) == 2 ** 31 - 1


def test_payload_limit(kv):
    kind, store, raw = kv
    sid = core.uid()
    store.max_payload = 100
    with pytest.raises(core.RequestTooLargeError):
        store.write(sid, "y" * 200)
    store.max_payload = 1 << 20
    store.write(sid, "y" * 200)
    store.max_payload = 50  # a value read back above the limit is no session
    with pytest.raises(core.InvalidSessionError):
        store.read(sid)


@pytest.mark.parametrize("kind", KINDS)
def test_server_down_fails_fast_and_logs_once(kind, tmp_path, caplog):
    store = store_for(kind, str(tmp_path / "nothing.sock"), retry_after=30)
    sid = core.uid()
    caplog.set_level(logging.WARNING, logger="smisk.session.network")
    with pytest.raises(OSError) as e:
        store.read(sid)
    assert "unavailable" in str(e.value)
    started = time.monotonic()
    for _ in range(100):
        with pytest.raises(OSError):
            store.write(sid, {"a": 1})
    assert time.monotonic() - started < 1.0
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1


# --- through an application behind nginx --------------------------------------

@pytest.fixture(params=KINDS)
def served(request, tmp_path):
    kind = request.param
    server = start_server(kind, tmp_path)
    app = start_session_app(tmp_path, f"{kind}:{server.address}")
    nginx = harness.Nginx(tmp_path, app.address, keep_conn=False)
    try:
        yield kind, server, app, nginx
    finally:
        nginx.stop()
        app.stop()
        server.stop()


def test_request_session_lifecycle(served):
    kind, server, app, nginx = served
    raw = raw_client(kind, server.address)
    c = Client(nginx.port)
    assert c.get("/get") == (200, {"host": "?", "pid": str(app.pid), "session": "None"})
    assert c.set_cookies == [] and c.sid is None  # reading creates nothing
    status, f = c.get("/set?k=user&v=alice")
    assert status == 200 and c.set_cookies == [f"SID={c.sid}; Path=/; HttpOnly; SameSite=Lax"]
    first = c.sid
    assert marshal.loads(core.session_unframe(first, raw.get(PREFIX + first))) == {"user": "alice"}
    assert c.get("/get")[1]["session"] == "{'user': 'alice'}" and c.set_cookies == []
    assert c.get("/incr")[1]["state"] == "new"
    assert c.get("/incr")[1] == {"host": "?", "pid": str(app.pid), "state": "kept", "n": "1"}
    c.get("/rotate")  # a fresh id, the data moves with it, the old one is gone
    assert c.sid != first and raw.get(PREFIX + first) is None
    assert c.get("/get")[1]["session"].startswith("{'n': 1, 'pad': 'xx")
    c.get("/del")
    assert c.set_cookies[0].startswith("SID=; Path=/; Max-Age=0") and c.sid is None
    assert raw.get(PREFIX + first) is None
    assert "Traceback" not in app.log()


def test_tampered_value_in_the_server_is_no_session_for_the_app(served):
    kind, server, app, nginx = served
    raw = raw_client(kind, server.address)
    c = Client(nginx.port)
    c.get("/set?k=user&v=alice")
    good = raw.get(PREFIX + c.sid)
    for planted in (good[:-1] + bytes([good[-1] ^ 0x80]), pickle.dumps({"user": "root"}), b"\x00" * 64,
                    core.session_frame(core.uid(), marshal.dumps({"user": "root"}))):
        raw.set(PREFIX + c.sid, planted)
        assert c.get("/get") == (200, {"host": "?", "pid": str(app.pid), "session": "None"})
    assert "Traceback" not in app.log()


def test_server_down_every_request_still_answers(served):
    """The documented behaviour: served without the session, nothing sent
    to replace the client's cookie, data set meanwhile not saved (logged);
    the session is back once the server is (Redis keeps it across the
    restart, memcached does not)."""
    kind, server, app, nginx = served
    c = Client(nginx.port)
    c.get("/set?k=user&v=alice")
    sid = c.sid
    server.stop()
    for path in ("/get", "/set?k=user&v=mallory", "/incr", "/rotate", "/pid"):
        status, f = c.get(path)
        assert status == 200, (path, f)
        assert c.set_cookies == [] and c.sid == sid, path
    assert c.get("/get")[1]["session"] == "None"
    server.restart()
    time.sleep(0.6)  # past the store's retry_after
    expected = "{'user': 'alice'}" if kind == "redis" else "None"
    assert c.get("/get")[1]["session"] == expected
    log = app.log()
    assert "session not saved" in log and "unavailable" in log and "Traceback" not in log
    # A logout while the server is down still makes the client forget the id.
    server.stop()
    c.get("/del")
    assert c.sid is None and c.set_cookies[0].startswith("SID=; Path=/; Max-Age=0")


@pytest.mark.skipif(not Memcached.available(), reason="no memcached")
def test_memcached_servers_share_the_sessions_and_one_down_takes_only_its_share(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = Memcached(tmp_path / "a"), Memcached(tmp_path / "b")
    try:
        store = store_for("memcached", None, servers=[a.address, b.address])
        ids = [core.uid() for _ in range(40)]
        for sid in ids:
            store.write(sid, {"sid": sid})
        on_a = [sid for sid in ids if raw_client("memcached", a.address).get(PREFIX + sid) is not None]
        on_b = [sid for sid in ids if raw_client("memcached", b.address).get(PREFIX + sid) is not None]
        assert sorted(on_a + on_b) == sorted(ids) and on_a and on_b  # each session on one server
        b.stop()
        for sid in on_a:
            assert store.read(sid) == {"sid": sid}
        for sid in on_b:
            with pytest.raises(OSError):
                store.read(sid)
        b.restart()
        time.sleep(0.6)  # past retry_after
        for sid in on_b:  # memcached kept nothing across its restart
            with pytest.raises(core.InvalidSessionError):
                store.read(sid)
        assert all(store.read(sid) == {"sid": sid} for sid in on_a)
    finally:
        a.stop()
        b.stop()
