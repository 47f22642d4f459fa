"""smisk.mvc.filters served for real (tests/apps/mvc_filters_app.py over
FastCGI): confirmation tokens, session logins, HTTP Digest, sorting. Tests
named after a P-n would have caught that bug of the original."""
import hashlib
import subprocess
import sys

import pytest

import harness
import mvc_helpers as mh

APP = harness.ROOT / "tests" / "apps" / "mvc_filters_app.py"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    p = mh.start(tmp_path_factory.mktemp("filters"), APP, name="filters")
    yield p
    p.stop()


def cookie_of(answer, old=None):
    value = answer.header("Set-Cookie")
    return value.split(";")[0] if value else old


def test_P55_filters_import_without_sqlalchemy():
    code = ("import sys; sys.modules['sqlalchemy'] = None; import smisk.mvc.filters as f; "
            "print(sorted(f.__all__))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "SessionAuthFilter" in out.stdout, out


def test_confirm_token_round_trip(app):
    a = mh.ask(app.address, "/delete_all.json")
    token, cookie = a.json["confirm_token"], cookie_of(a)
    assert a.json["deleted"] is False and len(token) == 32 and cookie
    bad = mh.ask(app.address, "/delete_all.json", query="confirm_token=wrong", headers={"Cookie": cookie})
    assert bad.json["deleted"] is False and bad.json["confirm_token"] != token
    token = bad.json["confirm_token"]
    good = mh.ask(app.address, "/delete_all.json", query=f"confirm_token={token}", headers={"Cookie": cookie})
    assert good.json == {"deleted": True}
    again = mh.ask(app.address, "/delete_all.json", query=f"confirm_token={token}", headers={"Cookie": cookie})
    assert again.json["deleted"] is False  # a token is good once


def test_session_login_P9_rotates_the_id_and_P8_checks_the_referrer(app):
    a = mh.ask(app.address, "/secret.json")
    assert a.status == 302 and a.header("Location").startswith("http://localhost/login?auth_referrer=")
    # a visitor with a session, who then logs in
    a = mh.ask(app.address, "/delete_all.json")
    cookie = cookie_of(a)
    old_sid = cookie.split("=", 1)[1]
    login = mh.ask(app.address, "/login.json", method="POST", body=b"user=alice&auth_referrer=/secret.json",
                   content_type=FORM, headers={"Cookie": cookie})
    assert login.status == 302 and login.header("Location") == "http://localhost/secret.json", login
    new_cookie = cookie_of(login)
    assert new_cookie and new_cookie != cookie  # the session moved to a new id (no fixation)
    s = mh.ask(app.address, "/secret.json", headers={"Cookie": new_cookie})
    assert s.json["user"] == "alice" and s.json["sid"] != old_sid
    assert mh.ask(app.address, "/secret.json", headers={"Cookie": cookie}).status == 302  # the old id is gone
    # an external referrer is not followed
    evil = mh.ask(app.address, "/login.json", method="POST", body=b"user=bob&auth_referrer=http://evil.example/",
                  content_type=FORM)
    assert evil.status == 200 and evil.json == {"authorized_user": "bob"}
    out = mh.ask(app.address, "/logout.json", headers={"Cookie": new_cookie})
    assert out.json == {"bye": True}
    assert mh.ask(app.address, "/secret.json", headers={"Cookie": new_cookie}).status == 302


def digest_header(challenge, user, password, uri, method="GET", nc="00000001", cnonce="c0ffee", realm=None,
                  algorithm="MD5"):
    import re
    fields = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
    H = (lambda s: hashlib.md5(s.encode()).hexdigest()) if algorithm == "MD5" else \
        (lambda s: hashlib.sha256(s.encode()).hexdigest())
    realm = realm or fields["realm"]
    ha1 = H(f"{user}:{realm}:{password}")
    ha2 = H(f"{method}:{uri}")
    response = H(f"{ha1}:{fields['nonce']}:{nc}:{cnonce}:auth:{ha2}")
    return (f'Digest username="{user}", realm="{realm}", nonce="{fields["nonce"]}", uri="{uri}", '
            f'algorithm={algorithm}, response="{response}", qop=auth, nc={nc}, cnonce="{cnonce}"')


def test_P7_digest_authentication(app):
    a = mh.ask(app.address, "/guarded.json")
    assert a.status == 401
    challenge = a.header("WWW-Authenticate")
    assert challenge.startswith('Digest realm="smisk test", nonce="') and 'qop="auth"' in challenge
    assert "algorithm=MD5" in challenge
    ok = mh.ask(app.address, "/guarded.json",
                headers={"Authorization": digest_header(challenge, "alice", "wonderland", "/guarded.json")})
    assert ok.status == 200 and ok.json == {"user": "alice"}, ok
    # the same nonce count again: a replay
    replay = mh.ask(app.address, "/guarded.json",
                    headers={"Authorization": digest_header(challenge, "alice", "wonderland", "/guarded.json")})
    assert replay.status == 401
    nxt = mh.ask(app.address, "/guarded.json", headers={
        "Authorization": digest_header(challenge, "alice", "wonderland", "/guarded.json", nc="00000002")})
    assert nxt.status == 200
    wrong = mh.ask(app.address, "/guarded.json", headers={
        "Authorization": digest_header(challenge, "alice", "nope", "/guarded.json", nc="00000003")})
    assert wrong.status == 401
    unknown = mh.ask(app.address, "/guarded.json", headers={
        "Authorization": digest_header(challenge, "mallory", "x", "/guarded.json")})
    assert unknown.status == 401
    other_uri = mh.ask(app.address, "/guarded.json", headers={
        "Authorization": digest_header(challenge, "alice", "wonderland", "/other", nc="00000004")})
    assert other_uri.status == 400
    forged = challenge.replace('nonce="', 'nonce="1')
    assert mh.ask(app.address, "/guarded.json", headers={
        "Authorization": digest_header(forged, "alice", "wonderland", "/guarded.json")}).status == 401
    for bad in ("Basic YWxpY2U6d29uZGVybGFuZA==", "Digest", 'Digest username="alice', "Digest a=b"):
        assert mh.ask(app.address, "/guarded.json", headers={"Authorization": bad}).status == 400, bad
    assert mh.ask(app.address, "/maybe.json").json == {"user": None}


def test_sortable_entities_P16_whitelist(app):
    a = mh.ask(app.address, "/kittens.json", query="sort=age&order=asc")
    assert a.json == {"kittens": {"ordered_by": ["age", "asc"]}, "sort": "age", "order": "asc",
                      "inverse_order": "desc"}
    assert mh.ask(app.address, "/kittens.json").json["kittens"] == {"ordered_by": ["name", "desc"]}
    assert mh.ask(app.address, "/kittens.json", query="sort=__class__").status == 400
    assert mh.ask(app.address, "/kittens.json", query="order=sideways").status == 400
