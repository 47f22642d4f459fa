"""The local shared dict (legacy module name: Smisk 1.x used Berkeley DB;
this one is the standard library's SQLite).

    from smisk.ipc import shared_dict      # or: from smisk.ipc.bsddb import shared_dict
    counters = shared_dict()
    counters["hits"] = counters.get("hits", 0) + 1

One database file per application and user, in a private directory
(`smisk.ipc.privdir`): `$XDG_RUNTIME_DIR/smisk-<name>/` or
`<tempdir>/smisk-<uid>/<name>/`, mode 0700, owned by the user, never a
symlink. Values are pickled by default, which is safe only because nobody
else can write that directory; `serializer='json'` stores JSON instead.
Several processes may use the dict at once (SQLite WAL, one row per key,
each operation its own transaction). With `persistent=False` (the
default) the contents are cleared when the first process opens the dict,
which is decided with an fcntl lock: every opener holds a shared lock, and
only an opener that gets the exclusive lock without waiting (nobody else
has it open) clears it."""
import fcntl
import json
import os
import pickle
import sqlite3
import threading
from collections.abc import MutableMapping
from typing import Any, Dict, Iterator, Optional, Tuple, Union

from smisk.ipc.privdir import default_home, ensure_private_dir

__all__ = ["shared_dict", "DBDict"]

Key = Union[str, bytes]

_dicts: Dict[Tuple[int, str], "DBDict"] = {}
_dicts_lock = threading.Lock()


def _encode_key(key: Any) -> bytes:
    if isinstance(key, str):
        return b"s" + key.encode("utf-8", "surrogatepass")
    if isinstance(key, (bytes, bytearray)):
        return b"b" + bytes(key)
    raise TypeError(f"shared_dict keys are str or bytes, not {type(key).__name__}")


def _decode_key(raw: bytes) -> Key:
    return raw[1:].decode("utf-8", "surrogatepass") if raw[:1] == b"s" else bytes(raw[1:])


class DBDict(MutableMapping):
    """A dict in an SQLite file, shared by processes. Open it with
    shared_dict()."""

    def __init__(self, path: str, mode: int = 0o600, persistent: bool = False, serializer: str = "pickle") -> None:
        if serializer not in ("pickle", "json"):
            raise ValueError("serializer must be 'pickle' or 'json'")
        self.path = path
        self.serializer = serializer
        self._dumps = pickle.dumps if serializer == "pickle" else (lambda v: json.dumps(v).encode())
        self._loads = pickle.loads if serializer == "pickle" else (lambda b: json.loads(b))
        self._lock = threading.RLock()
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
        os.close(fd)
        self._lockfd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL)")
        try:
            fcntl.flock(self._lockfd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if not persistent:
                self._db.execute("DELETE FROM kv")
            fcntl.flock(self._lockfd, fcntl.LOCK_SH)  # downgrade: others may open now
        except BlockingIOError:
            fcntl.flock(self._lockfd, fcntl.LOCK_SH)
        self._pid = os.getpid()

    def _conn(self) -> sqlite3.Connection:
        if self._pid != os.getpid():  # a connection is not usable across fork()
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self._pid = os.getpid()
        if self._db is None:
            raise ValueError("shared dict is closed")
        return self._db

    def __getitem__(self, key: Key) -> Any:
        with self._lock:
            row = self._conn().execute("SELECT v FROM kv WHERE k = ?", (_encode_key(key),)).fetchone()
        if row is None:
            raise KeyError(key)
        return self._loads(row[0])

    def __setitem__(self, key: Key, value: Any) -> None:
        k, v = _encode_key(key), self._dumps(value)
        with self._lock:
            self._conn().execute("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (k, v))

    def __delitem__(self, key: Key) -> None:
        with self._lock:
            cur = self._conn().execute("DELETE FROM kv WHERE k = ?", (_encode_key(key),))
        if cur.rowcount == 0:
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        try:
            k = _encode_key(key)
        except TypeError:
            return False
        with self._lock:
            return self._conn().execute("SELECT 1 FROM kv WHERE k = ?", (k,)).fetchone() is not None

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn().execute("SELECT COUNT(*) FROM kv").fetchone()[0])

    def __iter__(self) -> Iterator[Key]:
        with self._lock:
            rows = self._conn().execute("SELECT k FROM kv ORDER BY k").fetchall()
        return iter([_decode_key(r[0]) for r in rows])

    def items(self) -> Any:
        with self._lock:
            rows = self._conn().execute("SELECT k, v FROM kv ORDER BY k").fetchall()
        return [(_decode_key(k), self._loads(v)) for k, v in rows]

    def clear(self) -> None:
        with self._lock:
            self._conn().execute("DELETE FROM kv")

    def sync(self) -> None:
        """Every operation is committed already; kept for Berkeley DB code."""

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None  # type: ignore[assignment]
            if self._lockfd >= 0:
                os.close(self._lockfd)
                self._lockfd = -1
        with _dicts_lock:
            for k, v in list(_dicts.items()):
                if v is self:
                    del _dicts[k]

    def __repr__(self) -> str:
        return repr(dict(self.items()))


def shared_dict(filename: Optional[str] = None, homedir: Optional[str] = None, name: Optional[str] = None,
                mode: int = 0o600, dbenv: Any = None, type: Any = None, flags: Any = None,
                persistent: bool = False, serializer: str = "pickle") -> DBDict:
    """The DBDict of this application (one object per file per process).
    `dbenv`, `type` and `flags` (Berkeley DB options) are accepted and
    ignored."""
    if filename is None:
        if name is None:
            from smisk.util.cache import app_shared_key

            name = app_shared_key()
        home = ensure_private_dir(homedir) if homedir is not None else default_home(name)
        filename = os.path.join(home, "shared_dict.sqlite")
    else:
        ensure_private_dir(os.path.dirname(os.path.abspath(filename)))
    path = os.path.abspath(filename)
    key = (os.getpid(), path)
    with _dicts_lock:
        d = _dicts.get(key)
        if d is None:
            d = _dicts[key] = DBDict(path, mode=mode, persistent=persistent, serializer=serializer)
        return d
