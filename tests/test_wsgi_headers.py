"""smisk.wsgi.headers: start_response() validation (the library's checks),
and the caches of statuses and header items that passed, which the C
start_response keeps. A cached entry must be exactly what the full check
gives, and the check must refuse every time what it refused once (the cache
hits themselves, and str subclasses of cached items, are tested through the
C path in test_wsgi_fast_path.py)."""
import pytest

from smisk.wsgi import headers


class Str(str):
    pass


def test_lines_code_and_content_length():
    lines, has_length, code = headers.header_lines(
        "201 Created", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    assert lines == ["Status: 201 Created", "Content-Type: text/plain", "Content-Length: 5"]
    assert has_length is True and code == 201
    lines, has_length, code = headers.header_lines("404 Not Found", [("X-A", "b")])
    assert lines == ["Status: 404 Not Found", "X-A: b"] and has_length is False and code == 404


def test_a_cache_hit_gives_the_same_answer_as_the_first_check():
    items = [("Content-Type", "text/html; charset=utf-8"), ("content-length", "12"), ("X-Caf", "caf\xe9")]
    first = headers.header_lines("200 OK", list(items))
    again = headers.header_lines("200 OK", [(str(n), str(v)) for n, v in items])
    assert first == again
    assert first[0][3] == b"X-Caf: caf\xe9" and first[1] is True
    # What the C start_response finds in the caches is the same answer.
    good_status, good_items, _ = headers._caches()
    assert good_status["200 OK"] == (200, first[0][0])
    assert [good_items[item] for item in items] == [
        (first[0][1], False), (first[0][2], True), (first[0][3], False)]


def test_str_subclasses_are_refused_even_after_the_equal_str_item_was_cached():
    headers.header_lines("200 OK", [("X-Sub", "v")])
    with pytest.raises(TypeError, match="must be a str"):
        headers.header_lines("200 OK", [("X-Sub", Str("v"))])
    with pytest.raises(TypeError, match="header names must be str"):
        headers.header_lines("200 OK", [(Str("X-Sub"), "v")])
    headers.header_lines("200 OK", [])
    with pytest.raises(TypeError, match="status must be a str"):
        headers.header_lines(Str("200 OK"), [])


def test_malformed_items_are_refused_every_time():
    for _ in range(2):
        with pytest.raises(TypeError, match="tuple"):
            headers.header_lines("200 OK", [["X-A", "b"]])
        with pytest.raises(TypeError, match="tuple"):
            headers.header_lines("200 OK", [("X-A", "b", "c")])
        with pytest.raises(TypeError, match="must be a str"):
            headers.header_lines("200 OK", [("X-A", ["unhashable"])])
        with pytest.raises(TypeError, match="must be a str"):
            headers.header_lines("200 OK", [("X-A", b"bytes")])
        with pytest.raises(ValueError, match="hop-by-hop"):
            headers.header_lines("200 OK", [("Connection", "close")])
        with pytest.raises(ValueError, match="CR, LF or NUL"):
            headers.header_lines("200 OK", [("X-A", "b\r\nX-Injected: 1")])
        with pytest.raises(ValueError, match="RFC 7230 token"):
            headers.header_lines("200 OK", [("X A", "b")])
        with pytest.raises(ValueError, match="not Latin-1"):
            headers.header_lines("200 OK", [("X-A", "\u20ac")])
        with pytest.raises(ValueError, match="NNN Reason"):
            headers.header_lines("2000 OK", [])
        with pytest.raises(TypeError, match="status must be a str"):
            headers.header_lines(b"200 OK", [])
        with pytest.raises(TypeError, match="must be a list"):
            headers.header_lines("200 OK", (("X-A", "b"),))


def test_caches_stay_bounded_and_correct_past_their_size():
    for i in range(3 * headers._CACHE_MAX):
        lines, has_length, code = headers.header_lines(f"{200 + i % 700} R{i}", [("X-N", str(i))])
        assert lines == [f"Status: {200 + i % 700} R{i}", f"X-N: {i}"] and code == 200 + i % 700
    good_status, good_items, size = headers._caches()
    assert size == headers._CACHE_MAX
    assert len(good_items) <= headers._CACHE_MAX
    assert len(good_status) <= headers._CACHE_MAX
    assert headers.header_lines("299 Fine", [])[2] == 299


def test_one_grammar_no_second_validator():
    """The checks are the library's: smisk.wsgi.headers keeps no regex of its
    own, and the hop-by-hop names are the library's list."""
    import inspect

    source = inspect.getsource(headers)
    assert "import re" not in source and "re.compile" not in source
    assert headers.HOP_BY_HOP == frozenset(
        ("connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
         "trailers", "transfer-encoding", "upgrade"))
    # A Latin-1 name that is no token, a DEL in the status: the library says no.
    with pytest.raises(ValueError, match="RFC 7230 token"):
        headers.header_lines("200 OK", [("X\xe9", "b")])
    with pytest.raises(ValueError, match="NNN Reason"):
        headers.header_lines("200 O\x7fK", [])
