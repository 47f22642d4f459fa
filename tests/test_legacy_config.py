"""smisk.config: literal-only parsing with line-numbered errors, includes
and inheritance (globs, cycles, depth, missing files), reloads, logging
set-up and the keys smisk reads. Tests named p<N>_ check a Smisk 1.x fix."""
import io
import logging
import os

import pytest

from smisk.config import (GLOB_RE, LOGGING_DATEFMT, LOGGING_FORMAT, SETTINGS, ConfigError, Configuration,
                          config, config_locations, configure_logging, environment, parse)


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def test_format_bare_pairs_comments_quotes_and_symbols():
    text = """
    /* a block comment
       over lines */
    "a": 60*60,           # a Python comment
    'b': [true, false, null, True, None, DEBUG, warning],
    404: "errors/404",
    "nested": {"x": -1.5, "y": (1, 2), "z": b"raw",},
    "cat": "ab" "cd",
    "math": 7 // 2 + 7 % 3 - 1 / 2,
    """
    assert parse(text) == {"a": 3600, "b": [True, False, None, True, None, 10, 30], 404: "errors/404",
                           "nested": {"x": -1.5, "y": (1, 2), "z": b"raw"}, "cat": "abcd", "math": 3.5}
    assert parse('{"braced": 1}') == {"braced": 1}
    assert parse("# only a comment\n{'after': 'comment'}") == {"after": "comment"}
    assert parse("") == {}
    assert parse('"x": app', symbols={"app": "given"}) == {"x": "given"}


def test_p21_comment_markers_inside_strings_are_data():
    """A glob like "conf.d/*.conf" is not the start of a comment."""
    assert parse('"@include": "conf.d/*.conf", "end": "*/", \'q\': "/* not a comment */"') == \
        {"@include": "conf.d/*.conf", "end": "*/", "q": "/* not a comment */"}
    assert parse('"a": """multi\n/* line */ string""", "b": "esc\\" /* still string"') == \
        {"a": "multi\n/* line */ string", "b": 'esc" /* still string'}


@pytest.mark.parametrize("text, line, words", [
    ('"a": 1,\n"b": __import__("os").system("touch /tmp/pwned")', 2, "function calls"),
    ('"a": 1,\n\n"b": os.environ', 3, "attribute access"),
    ('"a": undefined_name', 1, "unknown name 'undefined_name'"),
    ('"a": [x for x in ()]', 1, "comprehensions"),
    ('"a": lambda: 1', 1, "lambdas"),
    ('"a": {1, 2}', 1, "set displays"),
    ('"a": f"{1}"', 1, "f-strings"),
    ('"a": 2 ** 100000', 1, "this operator"),
    ('"a": "x" + "y"', 1, "numbers only"),
    ('"a": 1 / 0', 1, "division by zero"),
    ('"a": 1 if 1 else 2', 1, "conditional"),
    ('"a": 1,\n"b": [1,\n', 3, "syntax error"),
    ('"a": 1 /* never closed', 1, "unterminated /* comment"),
    ('"a": [[1], 2],\n"b": {[1]: 2}', 2, "a dict key cannot be a list"),
])
def test_p1_config_is_parsed_never_evaluated(tmp_path, text, line, words):
    """Anything but literal data is a ConfigError naming file and line,
    and nothing runs."""
    path = tmp_path / "app.conf"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        Configuration().load(str(path))
    assert e.value.source == str(path) and e.value.lineno in (line, None)
    assert words in str(e.value) and str(e.value).startswith(f"{path}:")
    assert not os.path.exists("/tmp/pwned")


def test_hostile_sizes_end_in_config_errors():
    for text in ('"a": ' + "[" * 5000 + "]" * 5000, '"a": 1' + "0" * 10000, "\x00", '"a": 1e999 * 10'):
        with pytest.raises(ConfigError):
            parse(text)
    with pytest.raises(ConfigError):
        parse('"a": ' + "(" * 250 + "1" + ")" * 250)


def test_p22_non_dict_is_a_type_error_naming_the_source(tmp_path):
    """A configuration that is data but not a dict is a TypeError."""
    path = tmp_path / "list.conf"
    path.write_text("[1, 2, 3]")
    with pytest.raises(TypeError, match=str(path)):
        Configuration().load(str(path))


def test_bad_utf8_is_a_line_numbered_error(tmp_path):
    path = tmp_path / "latin.conf"
    path.write_bytes(b'"a": 1,\n"b": "\xe5"\n')
    with pytest.raises(ConfigError) as e:
        Configuration().load(str(path))
    assert e.value.lineno == 2


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_include_overrides_and_inherit_is_overridden(tmp_path):
    write(tmp_path / "base.conf", '"a": "base", "deep": {"x": 1, "y": 1}, "list": [1]')
    write(tmp_path / "conf.d" / "20-b.conf", '"b": "b20", "deep": {"y": 20}')
    write(tmp_path / "conf.d" / "10-b.conf", '"b": "b10", "list": [2]')
    main = write(tmp_path / "main.conf", '"@include": ["base.conf", "conf.d/*.conf", "none/*.conf"], "a": "main"')
    c = Configuration()
    got = c.load(str(main))
    # included files override this one, in sorted glob order; nested dicts merge; lists are replaced
    assert dict(c) == got == {"a": "base", "b": "b20", "deep": {"x": 1, "y": 20}, "list": [2]}
    child = write(tmp_path / "child.conf", '"@inherit": "base.conf", "a": "child", "deep": {"x": 2}')
    c = Configuration()
    c.load(str(child))
    assert dict(c) == {"a": "child", "deep": {"x": 2, "y": 1}, "list": [1]}
    both = write(tmp_path / "both.conf", '"@include": "base.conf", "@inherit": "conf.d/10-b.conf", "a": 0')
    c = Configuration()
    c.load(str(both))
    assert c["a"] == "base" and "b" not in c and "@include" not in c and "@inherit" not in c


def test_include_cycles_and_depth(tmp_path):
    write(tmp_path / "a.conf", '"@include": "b.conf", "a": 1')
    write(tmp_path / "b.conf", '"@include": "a.conf", "b": 1')
    with pytest.raises(RuntimeError, match="maximum include depth exceeded"):
        Configuration().load(str(tmp_path / "a.conf"))
    write(tmp_path / "self.conf", '"@include": "self.conf"')
    with pytest.raises(RuntimeError, match="maximum include depth exceeded"):
        Configuration().load(str(tmp_path / "self.conf"))
    # A glob including itself and its siblings: bounded in files, not exponential.
    for i in range(6):
        write(tmp_path / "fan" / f"{i}.conf", '"@include": "*.conf"')
    with pytest.raises(RuntimeError):
        Configuration().load(str(tmp_path / "fan" / "0.conf"))

    class Flat(Configuration):
        max_include_depth = 0

    c = Flat()
    c.load(str(tmp_path / "a.conf"))
    assert dict(c) == {"a": 1}
    # 7 levels are fine.
    for i in range(7):
        write(tmp_path / "chain" / f"{i}.conf", f'"@include": "{i + 1}.conf", "v{i}": {i}')
    write(tmp_path / "chain" / "7.conf", '"last": true')
    c = Configuration()
    c.load(str(tmp_path / "chain" / "0.conf"))
    assert c["last"] is True and c["v6"] == 6


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        Configuration().load(str(tmp_path / "nope.conf"))
    main = write(tmp_path / "main.conf", '"@include": "missing.conf"')
    with pytest.raises(FileNotFoundError) as e:
        Configuration().load(str(main))
    assert "missing.conf" in str(e.value) and "main.conf" in str(e.value)
    main = write(tmp_path / "bad.conf", '"@include": 5')
    with pytest.raises(ConfigError):
        Configuration().load(str(main))


def test_loads_ignores_includes_and_replaces_identical_sources():
    c = Configuration()
    assert c.loads('"@include": "/etc/passwd", "a": 1') == {"a": 1}
    c = Configuration()
    c.loads('"a": 1')
    c.loads('"a": 1')
    assert len(c.sources) == 1 and dict(c) == {"a": 1}
    c.loads('"b": {"x": 1}')
    c.update({"b": {"y": 2}})
    assert c["b"] == {"x": 1, "y": 2}


def test_p23_sources_are_absolute_and_reload_rereads(tmp_path, monkeypatch):
    """A source loaded by a relative path is reloaded from the same
    file after a chdir."""
    write(tmp_path / "app.conf", '"v": 1')
    monkeypatch.chdir(tmp_path)
    c = Configuration(default=True)
    c.load("app.conf")
    assert c.sources[0][0] == str(tmp_path / "app.conf")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write(elsewhere / "app.conf", '"v": "wrong file"')
    monkeypatch.chdir(elsewhere)
    write(tmp_path / "app.conf", '"v": 2')
    c.reload()
    assert dict(c) == {"default": True, "v": 2}
    os.unlink(tmp_path / "app.conf")
    c.reload()  # a vanished file is dropped with a warning
    assert dict(c) == {"default": True} and c.sources == []


def test_defaults_filters_reset_and_g():
    seen = []
    c = Configuration(a=1)
    c.add_filter(seen.append)
    c.add_filter(seen.append)
    c.loads('"b": {"c": {"d": 4}}')
    assert seen == [c] and c.g("b", "c", "d") == 4 and c.g("b", "x", default="dflt") == "dflt"
    c.set_default("a", 2)
    assert c["a"] == 2 and len(seen) == 2
    with pytest.raises(TypeError):
        c.defaults = [1]
    c.defaults = {"z": 26}
    assert "a" not in c and c["z"] == 26 and c["b"] == {"c": {"d": 4}}
    c.reset(reset_defaults=False)
    assert dict(c) == {"z": 26} and c.sources == [] and c.filters == []
    c.reset()
    assert dict(c) == {} and c.defaults == {}


def test_call_finds_named_configurations(tmp_path, monkeypatch, restore_logging):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr("smisk.config.config_locations", [str(tmp_path / "etc")])
    write(tmp_path / "etc" / "myapp.conf", '"where": "etc", "etc": 1')
    write(tmp_path / "myapp.conf", '"where": "cwd"')
    write(tmp_path / "myapp-user.conf", '"user": 1')
    write(tmp_path / "home" / "myapp.conf", '"where": "home"')
    write(tmp_path / "extra" / "myapp.conf", '"where": "extra"')
    c = Configuration()
    loaded = c("myapp", locations=[str(tmp_path / "extra")])
    assert loaded == [str(tmp_path / "etc" / "myapp.conf"), str(tmp_path / "myapp.conf"),
                      str(tmp_path / "myapp-user.conf"), str(tmp_path / "home" / "myapp.conf"),
                      str(tmp_path / "extra" / "myapp.conf")]
    assert dict(c) == {"where": "extra", "etc": 1, "user": 1}
    assert Configuration()("no-such-app") == []


def test_logging_configuration(tmp_path, restore_logging):
    log_file = tmp_path / "app.log"
    c = Configuration()
    c.loads(f'"logging": {{"filename": "{log_file}", "format": "%(levelname)s %(name)s %(message)s",'
            f'"levels": {{"": WARNING, "smisk.test": DEBUG, "x": "nonsense"}}}}')
    logging.getLogger("smisk.test").debug("to the file")
    logging.getLogger("other").info("not shown")
    for h in logging.getLogger().handlers:
        h.flush()
    lines = log_file.read_text().splitlines()
    assert "DEBUG smisk.test to the file" in lines and not any("not shown" in line for line in lines)
    assert "WARNING smisk.config unknown logging level 'nonsense' for logger 'x': skipped" in lines
    stream = io.StringIO()
    configure_logging({"stream": stream, "datefmt": LOGGING_DATEFMT})
    logging.getLogger("smisk.test").error("boom")
    assert "smisk.test ERROR: boom" in stream.getvalue()
    with pytest.raises(KeyError):
        configure_logging({"stream": "stdlog"})
    assert LOGGING_FORMAT.startswith("%(asctime)s.%(msecs)03d [%(process)d]")


def test_p24_logging_setup_uses_only_the_public_api(restore_logging):
    """No private logging names such as logging._acquireLock (gone in
    Python 3.13); the set-up works through the public API."""
    import inspect
    import re

    import smisk.config

    assert not re.search(r"logging\._[a-zA-Z]", inspect.getsource(smisk.config))
    stream = io.StringIO()
    configure_logging({"stream": stream, "levels": {"": "INFO"}})
    logging.getLogger("p24").info("ok")
    assert "p24 INFO: ok" in stream.getvalue()


def test_every_key_smisk_reads_has_a_type_and_default():
    keys = {"logging", "smisk.autoreload", "smisk.autoreload.modules", "smisk.autoreload.config",
            "smisk.emergency_logfile", "smisk.mvc.routes", "smisk.mvc.response.serializer",
            "smisk.mvc.show_traceback", "smisk.mvc.strict_tcn", "smisk.mvc.etag", "smisk.mvc.max_request_body",
            "smisk.mvc.model", "smisk.mvc.template.autoreload", "smisk.mvc.template.cache_limit",
            "smisk.mvc.template.cache_type", "smisk.mvc.template.format_exceptions",
            "smisk.mvc.template.input_encoding", "smisk.mvc.template.default_filters", "smisk.mvc.template.errors"}
    assert set(SETTINGS) == keys
    c = Configuration()
    assert c.setting("smisk.autoreload") is False and c.setting("smisk.mvc.strict_tcn") is True
    assert c.setting("smisk.mvc.template.cache_limit") == -1 and c.setting("smisk.mvc.template.cache_type") == "memory"
    assert c.setting("smisk.mvc.max_request_body") is None
    c.loads('"smisk.autoreload": true, "smisk.autoreload.config": 0, "smisk.mvc.strict_tcn": "yes"')
    assert c.setting("smisk.autoreload.modules") is True and c.setting("smisk.mvc.template.autoreload") is True
    assert c.setting("smisk.autoreload.config") is False
    with pytest.raises(TypeError, match="smisk.mvc.strict_tcn"):
        c.setting("smisk.mvc.strict_tcn")
    with pytest.raises(KeyError):
        c.setting("no.such.key")


def test_module_names():
    assert isinstance(config, Configuration) and config_locations == ["/etc/default", "/etc"]
    assert GLOB_RE.search("a/*.conf") and not GLOB_RE.search("a/b.conf")
    assert Configuration.filename_ext == ".conf" and Configuration.max_include_depth == 7
    assert Configuration.logging_key == "logging" and Configuration.input_encoding == "utf-8"
    assert Configuration.default_symbols["debug"] == logging.DEBUG == Configuration.default_symbols["DEBUG"]
    assert Configuration.default_symbols["FATAL"] == logging.CRITICAL
    assert environment() == os.environ.get("SMISK_ENVIRONMENT", "stable")
