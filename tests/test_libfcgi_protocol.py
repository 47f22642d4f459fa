"""The protocol and hostile-peer cases of test_fcgi_protocol.py, through the
drop-in libfcgi: the same test functions, run against
compat/libfcgi/tests/testapp.c (the test app's routes on libfcgi's API),
built against Debian's headers and run on the drop-in with
LD_LIBRARY_PATH. CVE-2025-23016's lengths included (a 0x7fffffff name
length gets 400, the process's memory stays small).

The limits the smisk test app takes as SMISK_TEST_* the drop-in takes from
the environment as SMISK_FCGI_*."""

import pytest

import fcgi_client as f
import harness
import libfcgi_helpers as lf
from test_fcgi_protocol import (  # noqa: F401  (collected here again)
    still_serving,
    test_abort_before_params_complete,
    test_abort_mid_body_ends_the_request_and_the_connection_goes_on,
    test_bad_version_byte_closes_the_connection,
    test_empty_stdin_after_the_app_finished_does_not_drop_the_connection,
    test_full_duplex_mirror_of_a_large_body,
    test_get_values_is_answered_truthfully,
    test_hang_up_mid_body,
    test_hang_up_mid_params,
    test_idle_keep_conn_connection_is_closed_after_the_keepalive_timeout,
    test_keep_conn_serves_many_requests_on_one_connection,
    test_management_flood_without_reading_replies_is_cut_off,
    test_max_conns_makes_further_connections_wait_not_fail,
    test_more_than_1_mib_of_params_gets_431_without_buffering_it,
    test_name_length_0x7fffffff_gets_400,
    test_params_limit_is_configurable,
    test_peer_that_stops_reading_hits_the_write_timeout,
    test_records_with_padding_and_tiny_stdin_records,
    test_response_framing_and_end_request,
    test_second_begin_on_a_busy_connection_gets_cant_mpx_conn,
    test_stdin_before_end_of_params_gets_400,
    test_truncated_header_then_hang_up,
    test_truncated_header_then_silence_hits_the_read_timeout,
    test_unknown_management_type_gets_unknown_type,
    test_unknown_type_for_a_request_id_is_skipped,
    test_without_keep_conn_the_server_closes,
)


@pytest.fixture(scope="module", autouse=True)
def built():
    lf.build()


def start(tmp, env=None):
    full = {"LD_LIBRARY_PATH": str(lf.DROPIN)}
    for name, value in (env or {}).items():
        full[name.replace("SMISK_TEST_", "SMISK_FCGI_")] = value
    p = harness.start_app(tmp, program=lf.binary("testapp", "stock"), env=full)
    maps = open(f"/proc/{p.pid}/maps").read()
    assert str(lf.DROPIN_SO.resolve()) in maps, "not on the drop-in"
    return p


@pytest.fixture
def app(tmp_path):
    p = start(tmp_path)
    yield p
    p.stop()


@pytest.fixture
def app_factory(tmp_path):
    started = []

    def make(env=None, tmp=None):
        p = start(tmp or tmp_path, env)
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()


def test_unknown_role_gets_unknown_role(app):
    # AUTHORIZER and FILTER are served (libfcgi serves them); role 9 is not.
    c = f.Conn(app.address)
    c.send(f.begin(7, role=9, keep_conn=True))
    r = c.read_response(7)
    assert r.end == (0, f.UNKNOWN_ROLE) and r.stdout == b""
    assert c.request(req_id=8, params=f.default_params(), keep_conn=True).stdout.endswith(b"Hello World!\n")


def test_32_kept_alive_connections_are_all_served(app):
    conns = [f.Conn(app.address) for _ in range(32)]
    for rnd in range(20):
        for c in conns:
            c.send(f.request_bytes(rnd + 1, f.default_params("/hello"), keep_conn=True))
        for c in conns:
            assert c.read_response(rnd + 1).stdout.endswith(b"Hello World!\n")
    for c in conns:
        c.close()
    still_serving(app)
