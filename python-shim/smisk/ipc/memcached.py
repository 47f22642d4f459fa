"""A dict shared between machines through memcached (needs `pymemcache`,
the extra `smisk[memcached]`).

    from smisk.ipc.memcached import shared_dict
    d = shared_dict(nodes=["10.0.0.5:11211"])
    d["greeting"] = {"text": "hello"}

Values are JSON by default: memcached has no access control, so anything
read from it may have been written by anyone who can reach it.
`serializer='pickle'` stores pickles, which trusts everyone who can write
to those servers to run code in this process: use it only on a private
network. Keys: the prefix (`name`, default none) and the key; keys with
spaces or control characters, or longer than 250 bytes, are replaced by
`<prefix>sha1:<hex digest>`. memcached cannot list its keys, so `len()`,
iteration, `keys()`, `items()` and `values()` raise NotImplementedError."""
import hashlib
import json
import pickle
import threading
from collections.abc import MutableMapping
from typing import Any, Dict, Iterable, Optional, Tuple

from smisk.session.network import parse_server

__all__ = ["shared_dict", "MCDict"]

_MAX_KEY = 250
_dicts: Dict[Tuple[str, Tuple[str, ...], str], "MCDict"] = {}
_lock = threading.Lock()


class MCDict(MutableMapping):
    """A MutableMapping on a pymemcache client."""

    def __init__(self, client: Any, key_prefix: Optional[str] = None, serializer: str = "json") -> None:
        if serializer not in ("json", "pickle"):
            raise ValueError("serializer must be 'json' or 'pickle'")
        self.client = client
        self.key_prefix = key_prefix or ""
        self.serializer = serializer

    def _key(self, key: Any) -> str:
        if isinstance(key, bytes):
            key = key.decode("utf-8", "surrogateescape")
        elif not isinstance(key, str):
            key = str(key)
        full = self.key_prefix + key
        raw = full.encode("utf-8", "surrogateescape")
        if len(raw) > _MAX_KEY or any(b <= 32 or b == 127 for b in raw) or not raw.isascii():
            digest = hashlib.sha1(raw).hexdigest()
            full = f"{self.key_prefix}sha1:{digest}"
            if len(full.encode()) > _MAX_KEY or not full.isascii() or any(c.isspace() for c in full):
                full = f"sha1:{hashlib.sha1(full.encode('utf-8', 'surrogateescape')).hexdigest()}"
        return full

    def _dumps(self, value: Any) -> bytes:
        return pickle.dumps(value) if self.serializer == "pickle" else json.dumps(value).encode()

    def _loads(self, raw: bytes) -> Any:
        return pickle.loads(raw) if self.serializer == "pickle" else json.loads(raw)

    def __getitem__(self, key: Any) -> Any:
        raw = self.client.get(self._key(key))
        if raw is None:
            raise KeyError(key)
        return self._loads(raw)

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __setitem__(self, key: Any, value: Any) -> None:
        if not self.client.set(self._key(key), self._dumps(value), noreply=False):
            raise OSError(f"memcached did not store {key!r}")

    def __delitem__(self, key: Any) -> None:
        if not self.client.delete(self._key(key), noreply=False):
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        # True for every stored value, falsy ones (0, "", []) included.
        return self.client.get(self._key(key)) is not None

    def _unlistable(self, *args: Any) -> Any:
        raise NotImplementedError("memcached cannot list its keys")

    __len__ = __iter__ = keys = items = values = _unlistable  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<MCDict prefix={self.key_prefix!r}>"


def shared_dict(name: Optional[str] = None, nodes: Iterable[Any] = ("127.0.0.1:11211",), memcached_debug: int = 0,
                serializer: str = "json") -> MCDict:
    """The MCDict for (`name`, `nodes`), one per process. `nodes` are
    "host:port" strings, (host, port) pairs or unix socket paths; several
    nodes share the keys by hashing. `memcached_debug` is accepted for 1.x
    code and ignored."""
    from pymemcache.client.base import Client
    from pymemcache.client.hash import HashClient

    addrs = tuple(sorted({f"{h}:{p}" if p else h for h, p in (parse_server(n, 11211) for n in nodes)}))
    if not addrs:
        raise ValueError("no memcached node")
    key = (name or "", addrs, serializer)
    with _lock:
        d = _dicts.get(key)
        if d is None:
            servers = [h if p == 0 else (h, p) for h, p in (parse_server(a, 11211) for a in addrs)]
            client = (Client(servers[0], default_noreply=False, connect_timeout=1, timeout=2) if len(servers) == 1
                      else HashClient(servers, default_noreply=False, connect_timeout=1, timeout=2))
            d = _dicts[key] = MCDict(client, key_prefix=name, serializer=serializer)
        return d
