"""Configuration files: parsed as literal data, never evaluated.

A file holds a dict display, usually without its outer braces:

    /* comments like this, and # comments */
    "smisk.mvc.strict_tcn": false,
    "logging": {"levels": {"": INFO}},
    "@include": "conf.d/*.conf",

`config` is the process-wide Configuration; `config("myapp")` loads
myapp.conf from the usual places. See docs/legacy.md for the format, the
include rules and every key the smisk package reads.
"""
import ast
import glob
import hashlib
import logging
import logging.handlers
import math
import os
import re
import sys
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

__all__ = [
    "config", "config_locations", "Configuration", "ConfigError", "configure_logging",
    "LOGGING_FORMAT", "LOGGING_DATEFMT", "GLOB_RE", "SETTINGS", "Setting", "environment",
]

log = logging.getLogger(__name__)

LOGGING_FORMAT = "%(asctime)s.%(msecs)03d [%(process)d] %(name)s %(levelname)s: %(message)s"
LOGGING_DATEFMT = "%Y-%m-%d %H:%M:%S"

GLOB_RE = re.compile(r"[*?\[]")
"""A path containing one of these characters is a glob pattern."""

if sys.platform == "win32":
    config_locations: List[str] = [os.environ.get("APPDATA", os.path.expanduser("~"))]
else:
    config_locations = ["/etc/default", "/etc"]

# Bounds against hostile or broken files: nesting of the data, and the number
# of files one load may pull in through @include/@inherit globs.
MAX_NESTING = 100
MAX_INCLUDED_FILES = 1000


class ConfigError(ValueError):
    """A configuration file or string that is not valid: `source` (path or
    '<string>') and `lineno` (1-based, or None) say where."""

    def __init__(self, message: str, source: str = "<string>", lineno: Optional[int] = None) -> None:
        self.message = message
        self.source = source
        self.lineno = lineno
        where = f"{source}:{lineno}" if lineno is not None else source
        super().__init__(f"{where}: {message}")


# --- the file format --------------------------------------------------------

_SPECIAL = re.compile(r"[\"'#/]")
_LEADING_NOISE = re.compile(r"(?:\s+|#[^\n]*)*")


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def strip_comments(text: str, source: str = "<string>") -> str:
    """`text` with its /* ... */ comments blanked out (newlines kept, so line
    numbers stay right). Comment markers inside string literals and after #
    are data. An unterminated comment raises ConfigError."""
    out: List[str] = []
    i, n = 0, len(text)
    while i < n:
        m = _SPECIAL.search(text, i)
        if m is None:
            out.append(text[i:])
            break
        j = m.start()
        out.append(text[i:j])
        c = text[j]
        if c in "\"'":
            quote = c * 3 if text.startswith(c * 3, j) else c
            k = j + len(quote)
            while k < n:
                ch = text[k]
                if ch == "\\":
                    k += 2
                elif text.startswith(quote, k):
                    k += len(quote)
                    break
                elif ch == "\n" and len(quote) == 1:
                    break  # an unterminated string: the parser reports it
                else:
                    k += 1
            out.append(text[j:k])
            i = k
        elif c == "#":
            k = text.find("\n", j)
            k = n if k < 0 else k
            out.append(text[j:k])
            i = k
        elif text.startswith("/*", j):
            end = text.find("*/", j + 2)
            if end < 0:
                raise ConfigError("unterminated /* comment", source, _line_of(text, j))
            out.append(re.sub(r"[^\n]", " ", text[j:end + 2]))
            i = end + 2
        else:  # a lone '/'
            out.append(c)
            i = j + 1
    return "".join(out)


_NUMBER_OPS: Dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _LiteralReader:
    """Evaluates the whitelisted subset of a Python expression: displays of
    dicts, lists and tuples, constants, numeric arithmetic and the names of
    the symbol table. Everything else is a ConfigError."""

    def __init__(self, source: str, symbols: Dict[str, Any]) -> None:
        self.source = source
        self.symbols = symbols

    def fail(self, node: ast.AST, message: str) -> ConfigError:
        return ConfigError(message, self.source, getattr(node, "lineno", None))

    def read(self, node: ast.AST, depth: int = 0) -> Any:
        if depth > MAX_NESTING:
            raise self.fail(node, f"data nested more than {MAX_NESTING} levels deep")
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (str, bytes, int, float, bool)) or node.value is None:
                return node.value
            raise self.fail(node, f"{type(node.value).__name__} constants are not allowed")
        if isinstance(node, ast.Dict):
            out = {}
            for key_node, value_node in zip(node.keys, node.values):
                if key_node is None:
                    raise self.fail(value_node, "'**' unpacking is not allowed")
                key = self.read(key_node, depth + 1)
                try:
                    out[key] = self.read(value_node, depth + 1)
                except TypeError:  # an unhashable key (a list)
                    raise self.fail(key_node, f"a dict key cannot be a {type(key).__name__}") from None
            return out
        if isinstance(node, ast.List):
            return [self.read(item, depth + 1) for item in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(self.read(item, depth + 1) for item in node.elts)
        if isinstance(node, ast.Name):
            try:
                return self.symbols[node.id]
            except KeyError:
                raise self.fail(node, f"unknown name {node.id!r} (strings need quotes; "
                                      f"true, false, null and logging level names are known)") from None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
            operand = self.read(node.operand, depth + 1)
            if not _is_number(operand):
                raise self.fail(node, "unary + and - apply to numbers only")
            return -operand if isinstance(node.op, ast.USub) else +operand
        if isinstance(node, ast.BinOp) and type(node.op) in _NUMBER_OPS:
            left = self.read(node.left, depth + 1)
            right = self.read(node.right, depth + 1)
            if not (_is_number(left) and _is_number(right)):
                raise self.fail(node, "arithmetic applies to numbers only")
            try:
                result = _NUMBER_OPS[type(node.op)](left, right)
            except ZeroDivisionError:
                raise self.fail(node, "division by zero") from None
            if isinstance(result, float) and not math.isfinite(result):
                raise self.fail(node, "arithmetic result is not a finite number")
            return result
        what = {ast.Call: "function calls", ast.Attribute: "attribute access", ast.Subscript: "subscripts",
                ast.Lambda: "lambdas", ast.Set: "set displays", ast.JoinedStr: "f-strings",
                ast.BinOp: "this operator", ast.Compare: "comparisons", ast.BoolOp: "and/or",
                ast.IfExp: "conditional expressions", ast.Starred: "'*' unpacking",
                ast.NamedExpr: "assignment expressions"}.get(type(node))
        if what is None and isinstance(node, (ast.ListComp, ast.DictComp, ast.SetComp, ast.GeneratorExp)):
            what = "comprehensions"
        raise self.fail(node, f"{what or type(node).__name__} not allowed in configuration (data only)")


def parse(text: str, source: str = "<string>", symbols: Optional[Dict[str, Any]] = None) -> dict:
    """The dict a configuration text describes (see the module doc).
    ConfigError for anything that is not literal data, TypeError when the
    text is data but not a dict."""
    table = dict(Configuration.default_symbols)
    if symbols:
        table.update(symbols)
    text = strip_comments(text, source)
    last_line = text.count("\n") + 1
    first = _LEADING_NOISE.match(text).end()  # type: ignore[union-attr]
    if not text.startswith("{", first):
        text = "{" + text + "\n}"
    try:
        tree = ast.parse(text, filename=source, mode="eval")
    except SyntaxError as e:
        # An error found at the closing brace we added is at the text's end.
        line = min(e.lineno, last_line) if e.lineno is not None else None
        raise ConfigError(f"syntax error: {e.msg}", source, line) from None
    except (ValueError, RecursionError, MemoryError) as e:
        # NUL bytes, integers past the digit limit, absurd nesting.
        raise ConfigError(f"cannot parse: {e}", source) from None
    if not isinstance(tree.body, ast.Dict):
        raise TypeError(f"{source}: a configuration must be a dict, not a {type(tree.body).__name__} "
                        f"display (line {getattr(tree.body, 'lineno', '?')})")
    try:
        return _LiteralReader(source, table).read(tree.body)
    except RecursionError:
        raise ConfigError(f"data nested too deeply", source) from None


# --- logging ----------------------------------------------------------------

_LEVEL_NAMES = ("CRITICAL", "FATAL", "ERROR", "WARN", "WARNING", "INFO", "NOTSET", "DEBUG")


def _level(value: Union[str, int]) -> Optional[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        level = logging.getLevelName(value.upper())
        if isinstance(level, int):
            return level
    return None


def configure_logging(conf: Dict[str, Any]) -> None:
    """Sets up logging from the 'logging' dict of a configuration.

    When the root logger has no handlers, or `conf` names any of filename,
    stream, format, datefmt, the root handlers are replaced by: a FileHandler
    (filename, filemode or 'a'); a SysLogHandler when syslog is true (a dict
    may give host and port, default localhost:514, or socket, and facility);
    a StreamHandler for stream ('stdout', 'stderr' or an object with write);
    else one on stderr. Each gets Formatter(format, datefmt).

    `levels` ({logger name: level name or number}, '' for the root) first
    resets every existing logger to NOTSET, then sets the listed ones."""
    root = logging.getLogger()
    if not root.handlers or any(key in conf for key in ("filename", "stream", "format", "datefmt")):
        formatter = logging.Formatter(conf.get("format", LOGGING_FORMAT), conf.get("datefmt", LOGGING_DATEFMT))
        handlers: List[logging.Handler] = []
        if conf.get("filename"):
            handlers.append(logging.FileHandler(conf["filename"], conf.get("filemode", "a")))
        if conf.get("syslog"):
            handlers.append(_syslog_handler(conf["syslog"]))
        stream = conf.get("stream")
        if stream:
            if isinstance(stream, str):
                try:
                    stream = {"stdout": sys.stdout, "stderr": sys.stderr}[stream.lower()]
                except KeyError:
                    raise KeyError(f"logging stream must be 'stdout' or 'stderr', not {stream!r}") from None
            elif not hasattr(stream, "write"):
                raise TypeError(f"logging stream must be 'stdout', 'stderr' or a writable object, not "
                                f"{type(stream).__name__}")
            handlers.append(logging.StreamHandler(stream))
        if not handlers:
            handlers.append(logging.StreamHandler(sys.stderr))
        for old in list(root.handlers):
            root.removeHandler(old)
            old.close()
        for handler in handlers:
            handler.setFormatter(formatter)
            root.addHandler(handler)
    levels = conf.get("levels")
    if isinstance(levels, dict):
        for logger in list(logging.root.manager.loggerDict.values()):
            if isinstance(logger, logging.Logger):
                logger.setLevel(logging.NOTSET)
        for name, value in levels.items():
            level = _level(value)
            if level is None:
                log.warning("unknown logging level %r for logger %r: skipped", value, name)
                continue
            logging.getLogger(name or None).setLevel(level)
    elif levels is not None:
        log.warning("logging.levels must be a dict of logger name to level, not %s", type(levels).__name__)


def _syslog_handler(spec: Any) -> logging.Handler:
    facility = logging.handlers.SysLogHandler.LOG_USER
    address: Union[str, Tuple[str, int]] = ("localhost", logging.handlers.SYSLOG_UDP_PORT)
    if isinstance(spec, dict):
        if "socket" in spec:
            address = spec["socket"]
        else:
            address = (spec.get("host", "localhost"), int(spec.get("port", logging.handlers.SYSLOG_UDP_PORT)))
        given = spec.get("facility")
        if isinstance(given, str):
            try:
                facility = logging.handlers.SysLogHandler.facility_names[given.lower()]
            except KeyError:
                raise KeyError(f"unknown syslog facility {given!r}") from None
        elif isinstance(given, int):
            facility = given
    return logging.handlers.SysLogHandler(address=address, facility=facility)


# --- the keys smisk reads ---------------------------------------------------

class Setting(NamedTuple):
    key: str
    types: Tuple[type, ...]
    default: Any  # a value, or a callable(config) for defaults derived from other keys
    doc: str


def _follows(key: str) -> Callable[["Configuration"], Any]:
    return lambda conf: conf.setting(key)


def _str_or_serializer(value: Any) -> bool:
    return isinstance(value, (str, type)) or value is None


SETTINGS: Dict[str, Setting] = {s.key: s for s in (
    Setting("logging", (dict,), None, "logging set-up (configure_logging)"),
    Setting("smisk.autoreload", (bool,), False, "master switch for module and config autoreload"),
    Setting("smisk.autoreload.modules", (bool,), _follows("smisk.autoreload"),
            "restart when a Python module changes"),
    Setting("smisk.autoreload.config", (bool,), _follows("smisk.autoreload"),
            "reload the configuration when a config file changes"),
    Setting("smisk.emergency_logfile", (str,), None, "where the runner writes crash tracebacks"),
    Setting("smisk.mvc.routes", (list, tuple), (), "regular-expression routes"),
    Setting("smisk.mvc.response.serializer", (str, type), None,
            "default response serializer: an extension name or a Serializer class; "
            "None = strict transparent content negotiation"),
    Setting("smisk.mvc.show_traceback", (bool,), None, "tracebacks in 5xx error bodies (None: the application's)"),
    Setting("smisk.mvc.strict_tcn", (bool,), True, "answer 406 when Accept/Accept-Charset cannot be met"),
    Setting("smisk.mvc.etag", (str,), None, "hashlib name (or hash constructor) for ETags of buffered responses"),
    Setting("smisk.mvc.max_request_body", (int,), None,
            "cap in bytes for bodies decoded by serializers (None: the request's max_formdata_size)"),
    Setting("smisk.mvc.model", (dict,), None, "ORM engine settings"),
    Setting("smisk.mvc.template.autoreload", (bool,), _follows("smisk.autoreload"), "recompile changed templates"),
    Setting("smisk.mvc.template.cache_limit", (int,), -1, "-1 unlimited, 0 no caching, N an LRU of N"),
    Setting("smisk.mvc.template.cache_type", (str,), "memory", "Mako cache type"),
    Setting("smisk.mvc.template.format_exceptions", (bool,), True, "Mako renders template errors"),
    Setting("smisk.mvc.template.input_encoding", (str,), "utf-8", "template source encoding"),
    Setting("smisk.mvc.template.default_filters", (list, tuple), ("str",),
            "Mako default filters ('unicode' means 'str')"),
    Setting("smisk.mvc.template.errors", (dict,), None, "status code → error template URI"),
)}

ENVIRONMENT_VARIABLES = {
    "SMISK_APP_DIR": "the application directory (set by the runner)",
    "SMISK_ENVIRONMENT": "the environment name, default 'stable'",
    "SMISK_BIND": "the address run() listens on",
    "SMISK_LOG_DIR": "directory of the emergency log",
}


def environment() -> str:
    """The environment name: $SMISK_ENVIRONMENT, default 'stable'."""
    return os.environ.get("SMISK_ENVIRONMENT", "stable")


# --- Configuration ----------------------------------------------------------

def _level_symbols() -> Dict[str, int]:
    table = {}
    for name in _LEVEL_NAMES:
        value = logging.getLevelName(name) if name not in ("FATAL", "WARN") else \
            {"FATAL": logging.FATAL, "WARN": logging.WARN}[name]
        table[name] = table[name.lower()] = value
    return table


def _deep_update(target: dict, source: dict) -> dict:
    for key, value in source.items():
        current = target.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            target[key] = _deep_update(dict(current), value)
        else:
            target[key] = _copy_dicts(value)
    return target


def _copy_dicts(value: Any) -> Any:
    """A copy of the dicts and lists in `value`, so merging never writes into
    a source's own data."""
    if isinstance(value, dict):
        return {k: _copy_dicts(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_dicts(v) for v in value]
    return value


class _LoadState:
    """Counts the files of one load (@include/@inherit fan-out)."""

    def __init__(self) -> None:
        self.files = 0


class Configuration(dict):
    """The merged configuration: defaults, then every loaded source in
    order (later ones override earlier ones; nested dicts merge), then
    post-processing (logging set-up, filters)."""

    filename_ext = ".conf"
    logging_key = "logging"
    input_encoding = "utf-8"
    max_include_depth = 7
    default_symbols: Dict[str, Any] = {"true": True, "false": False, "null": None, **_level_symbols()}

    def __init__(self, *args: Any, **defaults: Any) -> None:
        super().__init__(*args, **defaults)
        self._defaults: Dict[str, Any] = dict(self)
        self.sources: List[Tuple[Any, dict]] = []
        self.filters: List[Callable[["Configuration"], Any]] = []
        self._symbols: Dict[Any, Optional[Dict[str, Any]]] = {}

    # defaults

    @property
    def defaults(self) -> Dict[str, Any]:
        return self._defaults

    @defaults.setter
    def defaults(self, value: Dict[str, Any]) -> None:
        if not isinstance(value, dict):
            raise TypeError(f"defaults must be a dict, not {type(value).__name__}")
        self._defaults = value
        self.reload()

    def set_default(self, key: str, value: Any) -> None:
        self._defaults[key] = value
        self.reload()

    # loading

    def __call__(self, name: str, defaults: Optional[Dict[str, Any]] = None, locations: Iterable[str] = (),
                 symbols: Optional[Dict[str, Any]] = None, logging_key: Optional[str] = None) -> List[str]:
        """Loads the configuration called `name` from every place it exists
        (later ones override earlier ones): <location>/<name>.conf for each
        of config_locations, <last location>/<name>/<name>.conf,
        ./<name>.conf, ./<name>-user.conf, ~/<name>.conf, then
        <dir>/<name>.conf for each of `locations`. Returns the paths loaded."""
        if defaults is not None:
            if not isinstance(defaults, dict):
                raise TypeError(f"defaults must be a dict, not {type(defaults).__name__}")
            self._defaults = defaults
            self.reload(post_process=False)
        fn = name + self.filename_ext
        candidates = [os.path.join(loc, fn) for loc in config_locations]
        if config_locations:
            candidates.append(os.path.join(config_locations[-1], name, fn))
        candidates += [os.path.join(".", fn), os.path.join(".", name + "-user" + self.filename_ext),
                       os.path.join(os.path.expanduser("~"), fn)]
        candidates += [os.path.join(d, fn) for d in locations]
        loaded = []
        for path in candidates:
            if os.path.isfile(path):
                self.load(path, symbols=symbols, post_process=False)
                loaded.append(os.path.abspath(path))
        if not loaded:
            logging.basicConfig(format=LOGGING_FORMAT, datefmt=LOGGING_DATEFMT)
            log.warning("no configuration found for %r (looked in %s)", name, ", ".join(candidates))
        self._post_process(logging_key)
        return loaded

    def load(self, path: str, symbols: Optional[Dict[str, Any]] = None, post_process: bool = True) -> dict:
        """Loads the file at `path` (with its @include/@inherit files) and
        returns the dict it contributed. The source is remembered by absolute
        path: reload() reads that file again even after a chdir."""
        key = os.path.abspath(path)
        conf = self._read_file(key, symbols, 0, _LoadState())
        self._set_source(key, conf, symbols)
        self._apply(conf)
        if post_process:
            self._post_process()
        return conf

    def loads(self, string: str, symbols: Optional[Dict[str, Any]] = None, post_process: bool = True) -> dict:
        """Loads a configuration text (its @include/@inherit keys are
        ignored) and returns the dict parsed."""
        conf = parse(string, "<string>", symbols)
        conf.pop("@include", None)
        conf.pop("@inherit", None)
        key = ("<string>", hashlib.sha1(string.encode("utf-8", "surrogatepass")).hexdigest())
        self._set_source(key, conf, symbols)
        self._apply(conf)
        if post_process:
            self._post_process()
        return conf

    def _set_source(self, key: Any, conf: dict, symbols: Optional[Dict[str, Any]]) -> None:
        for i, (existing, _) in enumerate(self.sources):
            if existing == key:
                # Loading a source again replaces it in place: the order of
                # overrides stays that of the first load.
                self.sources[i] = (key, conf)
                break
        else:
            self.sources.append((key, conf))
        self._symbols[key] = symbols

    def _read_file(self, path: str, symbols: Optional[Dict[str, Any]], depth: int, state: "_LoadState") -> dict:
        """The merged dict of `path` and everything it includes/inherits."""
        state.files += 1
        if state.files > MAX_INCLUDED_FILES:
            raise RuntimeError(f"more than {MAX_INCLUDED_FILES} files included (at {path})")
        with open(path, "rb") as f:
            raw = f.read()
        try:
            text = raw.decode(self.input_encoding)
        except UnicodeDecodeError as e:
            raise ConfigError(f"not valid {self.input_encoding}: {e.reason} at byte {e.start}", path,
                              raw.count(b"\n", 0, e.start) + 1) from None
        conf = parse(text, path, symbols)
        includes = conf.pop("@include", None)
        inherits = conf.pop("@inherit", None)
        if self.max_include_depth <= 0:
            return conf
        if includes is not None:
            mode, names = "include", includes
        elif inherits is not None:
            mode, names = "inherit", inherits
        else:
            return conf
        if depth >= self.max_include_depth:
            raise RuntimeError(f"maximum include depth exceeded ({self.max_include_depth} levels, at {path})")
        others = [self._read_file(p, symbols, depth + 1, state)
                  for p in self._include_paths(names, path)]
        merged: dict = {}
        for part in ([conf] + others if mode == "include" else others + [conf]):
            _deep_update(merged, part)
        return merged

    def _include_paths(self, names: Union[str, Sequence[str]], including_file: str) -> List[str]:
        if isinstance(names, str):
            names = [names]
        elif not isinstance(names, (list, tuple)):
            raise ConfigError(f"@include/@inherit takes a path or a list of paths, not {type(names).__name__}",
                              including_file)
        base = os.path.dirname(including_file)
        paths: List[str] = []
        for name in names:
            if not isinstance(name, str):
                raise ConfigError(f"@include/@inherit paths are strings, not {type(name).__name__}", including_file)
            full = os.path.join(base, os.path.expanduser(name))
            if GLOB_RE.search(name):
                paths.extend(sorted(glob.glob(full)))
            elif not os.path.isfile(full):
                raise FileNotFoundError(2, f"configuration file not found (included from {including_file})", full)
            else:
                paths.append(full)
        return [os.path.abspath(p) for p in paths]

    def reload(self, post_process: bool = True) -> None:
        """Starts over from the defaults and applies every source again,
        reading files anew (a file that is gone is dropped, with a warning)."""
        dict.clear(self)
        _deep_update(self, self._defaults)
        kept = []
        for key, conf in self.sources:
            if isinstance(key, str):
                try:
                    conf = self._read_file(key, self._symbols.get(key), 0, _LoadState())
                except FileNotFoundError:
                    log.warning("configuration file %s is gone: no longer applied", key)
                    continue
            kept.append((key, conf))
            _deep_update(self, conf)
        self.sources = kept
        if post_process:
            self._post_process()

    def _apply(self, conf: dict) -> None:
        _deep_update(self, conf)

    def _post_process(self, logging_key: Optional[str] = None) -> None:
        key = logging_key or self.logging_key
        conf = self.get(key)
        if isinstance(conf, dict):
            configure_logging(conf)
        elif conf is not None:
            log.warning("configuration key %r must be a dict, not %s: logging not configured", key,
                        type(conf).__name__)
        self.apply_filters()

    # access and merging

    def update(self, d: Any = (), **kwargs: Any) -> None:  # type: ignore[override]
        """Merges `d` (and keyword arguments) in: nested dicts merge
        recursively, other values (lists too) are replaced."""
        _deep_update(self, dict(d, **kwargs))

    def g(self, *keys: Any, default: Any = None) -> Any:
        """Nested lookup: config.g('a', 'b') is config['a']['b'], or
        `default` when any key is missing."""
        value: Any = self
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                return default
            value = value[key]
        return value

    def setting(self, key: str) -> Any:
        """The value of one of the keys smisk reads (SETTINGS), or its
        documented default; TypeError when the configured value has the
        wrong type, KeyError for a key smisk does not read."""
        spec = SETTINGS[key]
        if key not in self or self[key] is None:
            return spec.default(self) if callable(spec.default) else spec.default
        value = self[key]
        if bool in spec.types and isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
            return bool(value)  # legacy files wrote 0/1
        if key == "smisk.mvc.etag" and callable(value):
            return value
        if not isinstance(value, spec.types) or (isinstance(value, bool) and bool not in spec.types):
            names = " or ".join(t.__name__ for t in spec.types)
            raise TypeError(f"configuration key {key!r} must be {names}, not {type(value).__name__}")
        return value

    def reset(self, reset_defaults: bool = True) -> None:
        """Forgets values, sources and filters (and the defaults, unless
        reset_defaults is false, in which case they are applied again)."""
        dict.clear(self)
        self.sources = []
        self.filters = []
        self._symbols = {}
        if reset_defaults:
            self._defaults = {}
        else:
            _deep_update(self, self._defaults)

    def add_filter(self, f: Callable[["Configuration"], Any]) -> None:
        """Calls f(config) after every (re)load; a filter is added once."""
        if f not in self.filters:
            self.filters.append(f)

    def apply_filters(self) -> None:
        for f in list(self.filters):
            f(self)

    def __repr__(self) -> str:
        return f"Configuration({dict.__repr__(self)})"


config = Configuration()
"""The process-wide configuration."""
