"""smisk.mvc.console driven through its stdin: the kittens example loaded
with its database, the set-up given the application, -e, and the
helpers."""

import os
import subprocess
import sys
import textwrap

import pytest

import mvc_helpers as mh

pytest.importorskip("sqlalchemy")
KITTENS_DIR = mh.EXAMPLES / "kittens"


def console(stdin, args=(), env=None, cwd=None, code=None):
    argv = [sys.executable, "-m", "smisk.mvc.console", *args] if code is None else [sys.executable, "-c", code, *args]
    r = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120, cwd=cwd,
                       env=dict(os.environ, **(env or {})))
    assert r.returncode == 0, r.stderr
    return r.stdout, r.stderr


def test_console_loads_the_kittens_app_and_its_database(tmp_path):
    db = tmp_path / "k.db"
    out, err = console(textwrap.dedent("""\
        print("before", Kitten.query.count())
        Kitten(name="Felix", color="black")
        session.commit()
        print("after", Kitten.query.count(), Kitten.get(1).to_dict())
        import os; print("env", os.environ["SMISK_ENVIRONMENT"])
        help
        ls(Kitten)
        """), args=["-d", str(KITTENS_DIR), "-e", "testing"], env={"KITTENS_DATABASE": f"sqlite:///{db}"},
        cwd=tmp_path)
    assert "before 0" in out and "after 1 {'name': 'Felix', 'color': 'black', 'id': 1}" in out
    assert "env testing" in out and "ls(obj) lists members" in out and "to_dict" in out
    assert "Smisk v" in err and "interactive console. Python v" in err  # the banner
    import sqlite3

    assert sqlite3.connect(db).execute("select name from kitten").fetchall() == [("Felix",)]
    assert not (tmp_path / ".kittens_console_history").exists()  # no readline history without a terminal


def test_P29_console_sets_up_the_given_application(tmp_path):
    app = tmp_path / "myapp"
    app.mkdir()
    (app / "__init__.py").write_text(textwrap.dedent("""\
        from smisk.mvc import *
        class root(Controller):
            def __call__(self):
                return {}
        GREETING = "hi from myapp"
        """))
    code = textwrap.dedent("""\
        import sys
        from smisk.mvc import Application
        from smisk.mvc.console import main
        class MyApp(Application):
            pass
        main(app=MyApp, argv=sys.argv[1:])
        """)
    out, err = console("print(type(__import__('smisk.core').core.Application.current).__name__, GREETING)\n",
                       args=["-d", str(app)], code=code, cwd=tmp_path)
    assert "MyApp hi from myapp" in out


def test_app_dir_from_the_environment_and_intro_eval(tmp_path):
    code = "from smisk.mvc.console import main; main(intro_eval='print(\"intro\", Kitten.__tablename__)', argv=[])"
    out, err = console("", code=code, env={"SMISK_APP_DIR": str(KITTENS_DIR),
                                           "KITTENS_DATABASE": f"sqlite:///{tmp_path / 'k.db'}"}, cwd=tmp_path)
    assert "intro kitten" in out


def test_export_puts_names_into_builtins():
    import builtins

    from smisk.mvc.console import export

    class Thing:
        visible = 1
        _hidden = 2

    export({"smisk_test_name": 42})
    export(Thing)
    try:
        assert builtins.smisk_test_name == 42 and builtins.visible == 1 and not hasattr(builtins, "_hidden")
    finally:
        del builtins.smisk_test_name, builtins.visible
