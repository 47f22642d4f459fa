"""The FastCGI protocol as the contract states it, and hostile peers: each
malformed or abusive input gets its defined answer and the process keeps
serving. Driven with a raw client (fcgi_client.py) over a unix socket."""

import os
import struct
import threading
import time
import zlib

import fcgi_client as f
import harness


def still_serving(app):
    r = f.get(app.address, "/hello")
    assert r.stdout.endswith(b"Hello World!\n") and r.end == (0, f.REQUEST_COMPLETE)
    assert app.alive()


def stats(app):
    body = f.get(app.address, "/stats").headers_and_body[1]
    return dict(kv.split("=") for kv in body.decode().split())


def test_response_framing_and_end_request(app):
    r = f.get(app.address, "/hello")
    assert r.stdout == b"Content-Type: text/plain\r\n\r\nHello World!\n"
    assert r.end == (0, f.REQUEST_COMPLETE)
    assert r.stderr == b"" and r.others == []


def test_keep_conn_serves_many_requests_on_one_connection(app):
    c = f.Conn(app.address)
    for i in range(1, 200):
        r = c.request(req_id=i % 65535 + 1, params=f.default_params("/hello"), keep_conn=True)
        assert r.stdout.endswith(b"Hello World!\n")
    c.close()


def test_without_keep_conn_the_server_closes(app):
    c = f.Conn(app.address)
    c.request(params=f.default_params("/hello"), keep_conn=False)
    assert c.closed_by_peer(5)


def test_full_duplex_mirror_of_a_large_body(app):
    body = os.urandom(8 << 20)
    c = f.Conn(app.address, timeout=30)
    sender = threading.Thread(target=c.send, args=(f.request_bytes(1, f.default_params("/mirror", method="POST"), body),))
    sender.start()
    r = c.read_response(1)
    sender.join()
    assert r.headers_and_body[1] == body


def test_records_with_padding_and_tiny_stdin_records(app):
    params = f.encode_params(f.default_params("/echo", method="POST"))
    data = f.begin(1) + f.record(f.PARAMS, 1, params, padding=7) + f.record(f.PARAMS, 1, padding=3)
    body = b"abcdefghij" * 10
    for i in range(len(body)):
        data += f.record(f.STDIN, 1, body[i:i + 1], padding=i % 8)
    data += f.record(f.STDIN, 1, padding=5)
    c = f.Conn(app.address)
    for i in range(0, len(data), 3):  # dribbled in 3-byte writes
        c.send(data[i:i + 3])
    r = c.read_response(1)
    assert r.headers_and_body[1] == f"len={len(body)} crc={zlib.crc32(body):08x}\n".encode()


def test_get_values_is_answered_truthfully(app):
    c = f.Conn(app.address)
    query = f.pair(b"FCGI_MAX_CONNS", b"") + f.pair(b"FCGI_MAX_REQS", b"") + f.pair(b"FCGI_MPXS_CONNS", b"") + f.pair(b"X_UNKNOWN", b"")
    c.send(f.record(f.GET_VALUES, 0, query))
    kind, rid, content = c.read_record()
    assert (kind, rid) == (f.GET_VALUES_RESULT, 0)
    assert f.pair(b"FCGI_MPXS_CONNS", b"0") in content
    assert f.pair(b"FCGI_MAX_CONNS", b"1024") in content
    assert f.pair(b"FCGI_MAX_REQS", b"1024") in content
    assert b"X_UNKNOWN" not in content
    # and the connection still takes a request afterwards
    assert c.request(params=f.default_params("/hello")).stdout.endswith(b"Hello World!\n")


def test_unknown_management_type_gets_unknown_type(app):
    c = f.Conn(app.address)
    c.send(f.record(42, 0, b"whatever"))
    kind, rid, content = c.read_record()
    assert (kind, rid, content[0]) == (f.UNKNOWN_TYPE, 0, 42)
    still_serving(app)


def test_unknown_type_for_a_request_id_is_skipped(app):
    c = f.Conn(app.address)
    c.send(f.begin(1) + f.record(42, 1, b"junk" * 100) + f.stream(f.PARAMS, 1, f.encode_params(f.default_params())) + f.stream(f.STDIN, 1, b""))
    r = c.read_response(1)
    assert r.stdout.endswith(b"Hello World!\n")


def test_unknown_role_gets_unknown_role(app):
    c = f.Conn(app.address)
    c.send(f.begin(7, role=f.AUTHORIZER, keep_conn=True))
    r = c.read_response(7)
    assert r.end == (0, f.UNKNOWN_ROLE) and r.stdout == b""
    # keep-conn: the same connection then serves a responder request
    assert c.request(req_id=8, params=f.default_params(), keep_conn=True).stdout.endswith(b"Hello World!\n")


def test_second_begin_on_a_busy_connection_gets_cant_mpx_conn(app):
    c = f.Conn(app.address)
    params = f.encode_params(f.default_params("/echo", method="POST"))
    c.send(f.begin(1, keep_conn=True) + f.stream(f.PARAMS, 1, params) + f.record(f.STDIN, 1, b"first"))
    time.sleep(0.1)  # request 1 is being served (the app waits for its body)
    c.send(f.begin(2, keep_conn=True))
    kind, rid, content = c.read_record()
    assert (kind, rid) == (f.END_REQUEST, 2)
    assert struct.unpack(">IB3x", content)[1] == f.CANT_MPX_CONN
    c.send(f.record(f.STDIN, 1, b"-rest") + f.record(f.STDIN, 1))
    r = c.read_response(1)
    assert r.headers_and_body[1].startswith(b"len=10 ")


def test_bad_version_byte_closes_the_connection(app):
    c = f.Conn(app.address)
    c.send(f.record(f.BEGIN_REQUEST, 1, b"\0\1\0\0\0\0\0\0", version=2))
    assert c.closed_by_peer(5)
    still_serving(app)


def test_truncated_header_then_hang_up(app):
    c = f.Conn(app.address)
    c.send(b"\x01\x01\x00")
    c.close()
    still_serving(app)


def test_truncated_header_then_silence_hits_the_read_timeout(app_factory):
    app = app_factory(env={"SMISK_TEST_READ_TIMEOUT_MS": "300"})
    c = f.Conn(app.address)
    c.send(b"\x01\x01\x00")
    t0 = time.monotonic()
    assert c.closed_by_peer(5)
    assert time.monotonic() - t0 < 3.5  # 300 ms timeout, checked at most once a second
    still_serving(app)


def test_name_length_0x7fffffff_gets_400(app):
    c = f.Conn(app.address)
    hostile = b"\xff\xff\xff\xff\x01" + b"x" * 20
    c.send(f.begin(1) + f.record(f.PARAMS, 1, hostile) + f.record(f.PARAMS, 1))
    r = c.read_response(1)
    assert r.stdout.startswith(b"Status: 400 Bad Request\r\n"), r.stdout
    assert r.end == (0, f.REQUEST_COMPLETE)
    assert c.closed_by_peer(5)
    still_serving(app)
    assert int(stats(app)["rss_kb"]) < 20 * 1024


def test_more_than_1_mib_of_params_gets_431_without_buffering_it(app):
    c = f.Conn(app.address, timeout=30)
    one = f.pair(b"HTTP_X_FILLER", b"v" * 60000)
    c.send(f.begin(1))
    sent = 0
    try:
        while sent < (1 << 20) + 200000:  # a little over the 1 MiB default limit
            c.send(f.record(f.PARAMS, 1, one))
            sent += len(one)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may close before we finish sending: that is fine
    r = c.read_response(1)
    assert r.stdout.startswith(b"Status: 431 "), r.stdout[:80]
    still_serving(app)
    assert int(stats(app)["rss_kb"]) < 20 * 1024


def test_params_limit_is_configurable(app_factory):
    app = app_factory(env={"SMISK_TEST_MAX_PARAMS_BYTES": "2048"})
    r = f.get(app.address, "/hello")
    assert r.stdout.endswith(b"Hello World!\n")
    p = f.default_params()
    p["HTTP_COOKIE"] = "c" * 3000
    c = f.Conn(app.address)
    r = c.request(params=p)
    assert r.stdout.startswith(b"Status: 431 ")


def test_abort_mid_body_ends_the_request_and_the_connection_goes_on(app):
    c = f.Conn(app.address)
    params = f.encode_params(f.default_params("/echo", method="POST"))
    c.send(f.begin(1, keep_conn=True) + f.stream(f.PARAMS, 1, params) + f.record(f.STDIN, 1, b"x" * 1000))
    time.sleep(0.1)
    c.send(f.record(f.ABORT_REQUEST, 1))
    r = c.read_response(1)
    assert r.end == (1, f.REQUEST_COMPLETE)  # the app saw SMISK_ERR_ABORTED and returned 1
    assert r.stdout == b""
    assert c.request(req_id=2, params=f.default_params(), keep_conn=True).stdout.endswith(b"Hello World!\n")
    assert int(stats(app)["aborted"]) >= 1


def test_abort_before_params_complete(app):
    c = f.Conn(app.address)
    c.send(f.begin(1, keep_conn=True) + f.record(f.PARAMS, 1, f.pair(b"A", b"1")) + f.record(f.ABORT_REQUEST, 1))
    r = c.read_response(1)
    assert r.end == (0, f.REQUEST_COMPLETE)
    assert c.request(req_id=2, params=f.default_params(), keep_conn=True).stdout.endswith(b"Hello World!\n")


def test_hang_up_mid_params(app):
    for cut in (3, 8, 20, 100):
        c = f.Conn(app.address)
        data = f.begin(1) + f.stream(f.PARAMS, 1, f.encode_params(f.default_params()))
        c.send(data[:cut])
        c.close()
    still_serving(app)


def test_hang_up_mid_body(app):
    c = f.Conn(app.address)
    params = f.encode_params(f.default_params("/echo", method="POST"))
    c.send(f.begin(1) + f.stream(f.PARAMS, 1, params) + f.record(f.STDIN, 1, b"y" * 5000))
    time.sleep(0.1)
    c.close()
    harness.wait_until(lambda: int(stats(app)["aborted"]) >= 1, what="aborted request counted")
    still_serving(app)


def test_stdin_before_end_of_params_gets_400(app):
    c = f.Conn(app.address)
    c.send(f.begin(1) + f.record(f.PARAMS, 1, f.pair(b"A", b"1")) + f.record(f.STDIN, 1, b"body"))
    r = c.read_response(1)
    assert r.stdout.startswith(b"Status: 400 ")
    still_serving(app)


def test_empty_stdin_after_the_app_finished_does_not_drop_the_connection(app):
    # libfcgi drops a kept-alive connection when the empty STDIN record
    # arrives after the application finished without reading stdin.
    c = f.Conn(app.address)
    c.send(f.begin(1, keep_conn=True) + f.stream(f.PARAMS, 1, f.encode_params(f.default_params())))
    r = c.read_response(1)
    assert r.stdout.endswith(b"Hello World!\n")
    c.send(f.record(f.STDIN, 1, b"late body the app never read") + f.record(f.STDIN, 1))
    r = c.request(req_id=2, params=f.default_params(), keep_conn=True)
    assert r.stdout.endswith(b"Hello World!\n")


def test_32_kept_alive_connections_are_all_served(app):
    conns = [f.Conn(app.address) for _ in range(32)]
    for rnd in range(20):
        for i, c in enumerate(conns):
            c.send(f.request_bytes(rnd + 1, f.default_params("/hello"), keep_conn=True))
        for c in conns:  # every connection gets its answer while all stay open
            assert c.read_response(rnd + 1).stdout.endswith(b"Hello World!\n")
    assert int(stats(app)["conns"]) >= 33
    for c in conns:
        c.close()


def test_management_flood_without_reading_replies_is_cut_off(app):
    c = f.Conn(app.address, timeout=5)
    flood = f.record(f.GET_VALUES, 0, f.pair(b"FCGI_MPXS_CONNS", b"")) * 50000
    try:
        c.send(flood)
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        pass
    still_serving(app)


def test_max_conns_makes_further_connections_wait_not_fail(app_factory):
    app = app_factory(env={"SMISK_TEST_MAX_CONNS": "2"})
    held = [f.Conn(app.address) for _ in range(2)]
    for i, c in enumerate(held):  # both served and kept open
        assert c.request(req_id=1, params=f.default_params(), keep_conn=True).stdout.endswith(b"Hello World!\n")
    third = f.Conn(app.address, timeout=0.5)  # connects (listen backlog) ...
    third.send(f.request_bytes(1, f.default_params()))
    try:
        third.read_record()
        answered_early = True
    except TimeoutError:
        answered_early = False
    assert not answered_early  # ... but is not served while two are open
    held[0].close()
    third.sock.settimeout(5)
    assert third.read_response(1).stdout.endswith(b"Hello World!\n")  # served once one closed


def test_idle_keep_conn_connection_is_closed_after_the_keepalive_timeout(app_factory):
    app = app_factory(env={"SMISK_TEST_KEEPALIVE_TIMEOUT_MS": "300"})
    c = f.Conn(app.address)
    assert c.request(params=f.default_params(), keep_conn=True).stdout.endswith(b"Hello World!\n")
    t0 = time.monotonic()
    assert c.closed_by_peer(5)
    assert 0.25 < time.monotonic() - t0 < 3.5  # 300 ms, checked at most once a second
    still_serving(app)


def test_peer_that_stops_reading_hits_the_write_timeout(app_factory):
    app = app_factory(env={"SMISK_TEST_WRITE_TIMEOUT_MS": "300"})
    c = f.Conn(app.address)
    c.send(f.request_bytes(1, f.default_params("/big", query="200000000")))
    # Never read: the socket buffers fill, the app's write times out, the app
    # counts the request as failed and goes on serving others.
    harness.wait_until(lambda: int(stats(app)["aborted"]) >= 1, timeout=15, what="write timeout")
    still_serving(app)
    c.close()
