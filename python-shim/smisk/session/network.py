"""What the memcached and Redis session stores share: server keys, client
connections that survive fork(), fail-fast after an outage, and one log
line per outage.

A `NetworkSessionStore` is a `smisk.core.KeyValueSessionStore`: the library
checks ids, frames and verifies values and passes the ttl; this class only
moves bytes. Subclasses implement `_connect(node)` and the four `_get`,
`_set`, `_touch`, `_delete` on server keys (`key_prefix + session id`),
list their servers in `nodes` (one, or several that `_node_for(key)`
chooses from), and name the exceptions that mean "the server cannot be
reached" in `connection_errors`.

When a server cannot be reached, every call for a key it holds fails with
`SessionStoreUnavailable` (an `OSError`) and, for `retry_after` seconds,
later calls for it fail at once without trying (so a dead server costs one
timeout per `retry_after`, not one per request); the other servers are not
affected. The request logic then serves those requests without their
sessions (see docs/sessions.md)."""
import logging
import os
import threading
import time
from typing import Any, Dict, List, Optional, Tuple, Type

from smisk.core import KeyValueSessionStore

__all__ = ["NetworkSessionStore", "SessionStoreUnavailable"]

log = logging.getLogger(__name__)


class SessionStoreUnavailable(OSError):
    """The session server cannot be reached (or was not reachable less than
    `retry_after` seconds ago)."""


class NetworkSessionStore(KeyValueSessionStore):
    """Base of the stores on a server; see the module doc."""

    key_prefix: str = "smisk:session:"
    retry_after: float = 0.5
    connect_timeout: float = 0.5
    timeout: float = 1.0
    connection_errors: Tuple[Type[BaseException], ...] = (OSError,)

    def __init__(self, key_prefix: Optional[str] = None, ttl: Optional[int] = None, name: Optional[str] = None,
                 retry_after: Optional[float] = None, connect_timeout: Optional[float] = None,
                 timeout: Optional[float] = None) -> None:
        if key_prefix is not None:
            if not isinstance(key_prefix, str) or any(c.isspace() or ord(c) < 33 for c in key_prefix) \
                    or len(key_prefix.encode()) > 200:
                raise ValueError("key_prefix must be at most 200 bytes without spaces or control characters")
            self.key_prefix = key_prefix
        if ttl is not None:
            self.ttl = ttl
        if name is not None:
            self.name = name
        for attr, value in (("retry_after", retry_after), ("connect_timeout", connect_timeout),
                            ("timeout", timeout)):
            if value is not None:
                if not isinstance(value, (int, float)) or value < 0:
                    raise ValueError(f"{attr} must be a number of seconds")
                setattr(self, attr, float(value))
        self.nodes: List[str] = []
        self._clients: Dict[str, Any] = {}
        self._clients_pid = 0
        self._lock = threading.Lock()
        self._down_until: Dict[str, float] = {}
        self._down_since: Dict[str, float] = {}

    # --- subclass interface ------------------------------------------------

    @property
    def server(self) -> str:
        """The servers, as shown in log lines."""
        return ",".join(self.nodes)

    def _node_for(self, key: str) -> str:
        """The server holding `key` (the only one, unless overridden)."""
        return self.nodes[0]

    def _connect(self, node: str) -> Any:
        raise NotImplementedError

    def _get(self, client: Any, key: str) -> Optional[bytes]:
        raise NotImplementedError

    def _set(self, client: Any, key: str, value: bytes, ttl: int) -> None:
        raise NotImplementedError

    def _touch(self, client: Any, key: str, ttl: int) -> bool:
        raise NotImplementedError

    def _delete(self, client: Any, key: str) -> None:
        raise NotImplementedError

    # --- plumbing ----------------------------------------------------------

    def client(self, node: Optional[str] = None) -> Any:
        """This process's client of `node` (made again after fork(): a socket
        shared by two processes would mix their answers)."""
        node = node if node is not None else self.nodes[0]
        pid = os.getpid()
        with self._lock:
            if self._clients_pid != pid:
                self._clients = {}
                self._clients_pid = pid
            client = self._clients.get(node)
            if client is None:
                client = self._clients[node] = self._connect(node)
        return client

    def _call(self, op: Any, key: str, *args: Any) -> Any:
        node = self._node_for(key)
        if time.monotonic() < self._down_until.get(node, 0.0):
            raise SessionStoreUnavailable(f"session server {node} unavailable "
                                          f"(not retried for {self.retry_after:g} s after a failure)")
        try:
            result = op(self.client(node), key, *args)
        except self.connection_errors as e:
            self._down_until[node] = time.monotonic() + self.retry_after
            self._drop(node)
            if node not in self._down_since:
                self._down_since[node] = time.monotonic()
                log.error("session server %s unavailable (%s: %s): requests are served without their sessions "
                          "until it answers", node, type(e).__name__, e)
            raise SessionStoreUnavailable(f"session server {node} unavailable: {type(e).__name__}: {e}") from e
        since = self._down_since.pop(node, None)
        if since is not None:
            log.warning("session server %s answers again after %.1f s", node, time.monotonic() - since)
        return result

    def kv_get(self, session_id: str) -> Optional[bytes]:
        return self._call(self._get, self.key_prefix + session_id)

    def kv_set(self, session_id: str, value: bytes, ttl: int) -> None:
        self._call(self._set, self.key_prefix + session_id, value, ttl)

    def kv_touch(self, session_id: str, ttl: int) -> bool:
        return bool(self._call(self._touch, self.key_prefix + session_id, ttl))

    def kv_delete(self, session_id: str) -> None:
        self._call(self._delete, self.key_prefix + session_id)

    def _drop(self, node: str) -> None:
        with self._lock:
            client = self._clients.pop(node, None)
        if client is not None:
            for name in ("close", "disconnect_all"):
                f = getattr(client, name, None)
                if f is not None:
                    try:
                        f()
                    except Exception:  # closing a broken connection
                        pass
                    break

    def close(self) -> None:
        """Closes this process's connections (the next call opens others)."""
        for node in list(self._clients):
            self._drop(node)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.server} prefix={self.key_prefix!r} ttl={self.ttl}>"


def parse_server(address: Any, default_port: int) -> Tuple[str, int]:
    """`"host:port"`, `"[v6]:port"`, `"host"` → (host, port); a path
    containing `/` → (path, 0), a unix socket. A (host, port) pair is
    returned as given."""
    if isinstance(address, tuple) and len(address) == 2:
        return str(address[0]), int(address[1])
    if not isinstance(address, str) or not address:
        raise ValueError(f"not a server address: {address!r}")
    if "/" in address:
        return address, 0
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif address.count(":") == 1:
        host, _, port = address.partition(":")
    else:
        host, port = address, ""
    if not host:
        raise ValueError(f"not a server address: {address!r}")
    try:
        p = int(port) if port else default_port
    except ValueError:
        raise ValueError(f"not a server address: {address!r}") from None
    if not 0 < p < 65536:
        raise ValueError(f"port out of range in {address!r}")
    return host, p
