"""smisk.mvc.model (the Elixir-style Entity API on SQLAlchemy 2) and the
kittens example behind nginx on SQLite and on PostgreSQL (a throw-away
cluster started by the test on a unix socket). Each test named after a
P-n would have caught that bug of the original."""

import json
import logging
import subprocess
import sys
import urllib.parse

import pytest

import harness
import mvc_helpers as mh
from servers import Postgres

sa = pytest.importorskip("sqlalchemy")

KITTENS = mh.EXAMPLES / "kittens" / "kittens.py"

# Entities are mapped once per process: each test defines its own classes
# (distinct names) in a fresh model bound to a new in-memory database.
MODEL_CODE = r"""
import json, sys, warnings
warnings.simplefilter("error")
from smisk.mvc.model import *
import smisk.mvc.model as model
bind("sqlite://")

class Person(Entity):
    name = Field(Unicode(100), required=True)
    kittens = OneToMany("Kitten")

class Kitten(Entity):
    name = Field(Unicode(100), required=True)
    color = Field(Unicode(30), default="grey")
    owner = ManyToOne("Person")

class Tag(Entity):
    code = Field(String(10), primary_key=True)

setup_all(True)
out = {}
out["tables"] = sorted(metadata.tables)
out["kitten_cols"] = Kitten.field_names()
out["tag_cols"] = Tag.field_names()
ann = Person(name="Ann")
k = Kitten(name="Mittens", owner=ann)
Kitten(name="Tom", color="black")
commit_if_needed()
out["count"] = Kitten.query.count()
out["get"] = Kitten.get(1).to_dict()
out["get_by"] = Kitten.get_by(color="black").name
out["missing"] = Kitten.get_by(name="nobody")
out["deep"] = ann.to_dict(deep={"kittens": {}}, exclude=["id"])
out["iter"] = list(k)
k.from_dict({"id": 99, "name": "Mitzi", "unknown": 1, "query": "x"})
commit_if_needed()
out["after_from_dict"] = [k.id, k.name]
k.from_dict({"id": 42}, include_pk=True)
out["include_pk"] = k.id
commit_if_needed()
try:
    Kitten(name=None)
    commit_if_needed()
except Exception as e:
    out["required"] = type(e).__name__
out["after_failed_commit"] = Kitten.query.count()
Kitten.get_by(name="Tom").delete()
commit_if_needed()
out["after_delete"] = Kitten.query.count()
first = Kitten
class Kitten(Entity):  # the application module imported a second time
    name = Field(Unicode(100), required=True)
    color = Field(Unicode(30), default="grey")
    owner = ManyToOne("Person")
out["redefined_is_first"] = Kitten is first
out["redefined_query"] = Kitten.query.count()
Kitten(name="Pending")
rollback_if_needed()
out["rolled_back"] = Kitten.query.count()
print(json.dumps(out))
"""


def run_py(code, *args):
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_entity_api():
    out = json.loads(run_py(MODEL_CODE))
    assert out["tables"] == ["kitten", "person", "tag"]
    assert out["kitten_cols"] == ["name", "color", "owner_id", "id"] and out["tag_cols"] == ["code"]
    assert out["count"] == 2 and out["get"] == {"name": "Mittens", "color": "grey", "owner_id": 1, "id": 1}
    assert out["get_by"] == "Tom" and out["missing"] is None
    assert out["deep"] == {"name": "Ann", "kittens": [{"name": "Mittens", "color": "grey", "owner_id": 1, "id": 1}]}
    assert out["iter"] == ["name", "color", "owner_id", "id"]
    assert out["required"] == "IntegrityError" and out["after_failed_commit"] == 2
    assert out["after_delete"] == 1
    assert out["redefined_is_first"] is True and out["redefined_query"] == 1
    assert out["rolled_back"] == 1


def test_P20_from_dict_never_sets_the_primary_key_unless_asked():
    out = json.loads(run_py(MODEL_CODE))
    assert out["after_from_dict"] == [1, "Mitzi"]
    assert out["include_pk"] == 42


def test_long_table_names_and_elixir_options():
    code = r"""
import json
import smisk.mvc.model as m
from smisk.config import config
config.loads('"smisk.mvc.model": {"url": "sqlite://", "elixir.shortnames": False}')
class Owl(m.Entity):
    name = m.Field(m.Unicode(10))
m.setup_all(True)
print(json.dumps([sorted(m.metadata.tables), m.options_defaults["shortnames"], str(m.metadata.bind.url)]))
"""
    assert json.loads(run_py(code)) == [["__main___owl"], False, "sqlite://"]


def test_P56_mysql_urls_get_pool_settings_and_passwords_are_masked(caplog, monkeypatch):
    import smisk.mvc.model as m

    seen = []
    real = sa.create_engine
    monkeypatch.setattr(m.sql, "create_engine", lambda url, **kw: seen.append((url, kw)) or real("sqlite://"))
    previous = m.metadata.bind
    caplog.set_level(logging.INFO, logger="smisk.mvc.model")
    try:
        m.bind("mysql+pymysql://app:s3cret@db.example/app")
        assert seen[-1][1] == {"pool_pre_ping": True, "pool_recycle": 3600}
        m.bind("mysql://app:s3cret@db.example/app", pool_recycle=60)
        assert seen[-1][1] == {"pool_pre_ping": True, "pool_recycle": 60}
        m.bind("postgresql+psycopg://app:s3cret@db/app")
        assert seen[-1][1] == {}
        assert "s3cret" not in caplog.text and "***" in caplog.text
        before = len(seen)
        m.bind("kittens.db")  # no scheme: an error, nothing bound
        assert len(seen) == before and "not a database URL" in caplog.text
    finally:
        if m.metadata.bind is not None:
            m.metadata.bind.dispose()
        m.metadata.bind = previous
        m.session.configure(bind=previous)


def test_without_sqlalchemy_the_module_imports_and_does_nothing():
    code = r"""
import sys, warnings
sys.modules["sqlalchemy"] = None
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    import smisk.mvc.model as m
    import smisk.mvc.filters  # imports the model module
print(m.Entity, m.session, m.metadata.bind, m.commit_if_needed(), m.rollback_if_needed(), len(w) >= 1)
"""
    assert run_py(code).split() == ["None", "None", "None", "None", "None", "True"]


def test_P55_importing_smisk_mvc_does_not_import_sqlalchemy():
    out = run_py("import sys, smisk.mvc, smisk.mvc.filters; print('sqlalchemy' in sys.modules)")
    assert out.strip() == "False"


def test_P16_sortable_entities_on_real_columns():
    code = r"""
import json
from smisk.mvc.model import *
from smisk.mvc.filters import sortable_entities
from smisk.mvc import http
bind("sqlite://")
class Cat(Entity):
    name = Field(Unicode(20))
    age = Field(Integer)
setup_all(True)
for n, a in (("b", 3), ("a", 5), ("c", 1)):
    Cat(name=n, age=a)
commit_if_needed()
leaf = sortable_entities(Cat, "cats", "name", "asc")(lambda **kw: {})
out = []
for q in ({}, {"sort": "age", "order": "desc"}, {"sort": "id", "order": "asc"}):
    rsp = leaf(**q)
    out.append([c.name for c in rsp["cats"]] + [rsp["sort"], rsp["order"], rsp["inverse_order"]])
for bad in ({"sort": "__class__"}, {"sort": "query"}, {"sort": "name; DROP TABLE cat"}, {"order": "up"}):
    try:
        leaf(**bad)
        out.append("accepted")
    except http.HTTPExc as e:
        out.append(e.status.code)
print(json.dumps(out))
"""
    assert json.loads(run_py(code)) == [["a", "b", "c", "name", "asc", "desc"], ["a", "b", "c", "age", "desc", "asc"],
                                        ["b", "a", "c", "id", "asc", "desc"], 400, 400, 400, 400]


# --- the kittens example behind nginx ------------------------------------------

@pytest.fixture(scope="module")
def postgres():
    if not Postgres.available():
        pytest.skip("PostgreSQL is not installed")
    pg = Postgres()
    yield pg
    pg.stop()


def kittens_requests(port):
    def fetch(path, method="GET", body=None, headers=None):
        return harness.http_fetch(port, path, method, body, headers)

    assert json.loads(fetch("/.json")[2]) == {"kittens": []}
    ids = []
    for i in range(5):
        form = urllib.parse.urlencode({"name": f"Kitten ä{i}", "color": "black" if i % 2 else "tabby"}).encode()
        status, headers, body = fetch("/create", "POST", form, {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 303, body
        location = harness.header(headers, "Location")
        ids.append(int(location.rsplit("/", 1)[1]))
        status, _, body = fetch(f"/kitten/{ids[-1]}.json")
        assert status == 200 and json.loads(body)["kitten"]["name"] == f"Kitten ä{i}"
    # A failed create is rolled back: nothing half-made is stored.
    status, _, _ = fetch("/create", "POST", b"name=&color=red", {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400
    kittens = json.loads(fetch("/.json")[2])["kittens"]
    assert [k["id"] for k in kittens] == ids and kittens[1]["color"] == "black"
    status, headers, body = fetch("/", headers={"Accept": "text/html"})
    assert status == 200 and "Kitten ä3".encode() in body and b"<li>" in body
    status, _, body = fetch(f"/kitten/{ids[0]}", headers={"Accept": "text/html"})
    assert status == 200 and b'<h1 id="name">Kitten \xc3\xa40</h1>' in body
    assert fetch("/kitten/99999.json")[0] == 404 and fetch("/kitten/nope.json")[0] == 404


def start_kittens(tmp_path, nginx_factory, url):
    p = mh.start(tmp_path, KITTENS, env={"KITTENS_DATABASE": url}, name="kittens")
    return p, nginx_factory(p.address, keep_conn=False)


def test_kittens_on_sqlite_behind_nginx(tmp_path, nginx_factory):
    """List, create, read behind nginx's default set-up; a rejected create
    is rolled back."""
    db = tmp_path / "kittens.db"
    p, nginx = start_kittens(tmp_path, nginx_factory, f"sqlite:///{db}")
    try:
        kittens_requests(nginx.port)
        assert db.exists()
    finally:
        assert p.stop() == 0, p.log()
    assert "Traceback" not in p.log()


def test_kittens_on_postgresql_behind_nginx(tmp_path, nginx_factory, postgres):
    """The same on PostgreSQL (initdb, postgres on a unix socket, run as an
    unprivileged user, stopped by PID); rollback and the pool settings on SQLAlchemy 2."""
    p, nginx = start_kittens(tmp_path, nginx_factory, postgres.url)
    try:
        kittens_requests(nginx.port)
        engine = sa.create_engine(postgres.url)
        with engine.connect() as c:
            assert c.execute(sa.text("select count(*) from kitten")).scalar() == 5
        engine.dispose()
    finally:
        assert p.stop() == 0, p.log()
    assert "Traceback" not in p.log()
