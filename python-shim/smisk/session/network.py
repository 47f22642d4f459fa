"""What the memcached and Redis session stores share: server keys, client
connections that survive fork(), fail-fast after an outage, and one log
line per outage.

A `NetworkSessionStore` is a `smisk.core.KeyValueSessionStore`: the library
checks ids, frames and verifies values and passes the ttl; this class only
moves bytes. Subclasses implement `_connect()` and the four `_get`, `_set`,
`_touch`, `_delete` on server keys (`key_prefix + session id`), and name
the exceptions that mean "the server cannot be reached" in
`connection_errors`.

When the server cannot be reached, every call fails with
`SessionStoreUnavailable` (an `OSError`) and, for `retry_after` seconds,
later calls fail at once without trying (so a dead server costs one timeout
per `retry_after`, not one per request). The request logic then serves
requests without their sessions (see docs/sessions.md)."""
import logging
import os
import threading
import time
from typing import Any, Optional, Tuple, Type

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
        self._client_pid = 0
        self._client: Any = None
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._down_since: Optional[float] = None

    # --- subclass interface ------------------------------------------------

    @property
    def server(self) -> str:
        """The server, as shown in log lines."""
        raise NotImplementedError

    def _connect(self) -> Any:
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

    def client(self) -> Any:
        """The client of this process (made again after fork(): a socket
        shared by two processes would mix their answers)."""
        pid = os.getpid()
        if self._client is None or self._client_pid != pid:
            with self._lock:
                if self._client is None or self._client_pid != pid:
                    self._client = self._connect()
                    self._client_pid = pid
        return self._client

    def _call(self, op: Any, *args: Any) -> Any:
        if time.monotonic() < self._down_until:
            raise SessionStoreUnavailable(f"session server {self.server} unavailable "
                                          f"(not retried for {self.retry_after:g} s after a failure)")
        try:
            result = op(self.client(), *args)
        except self.connection_errors as e:
            self._down_until = time.monotonic() + self.retry_after
            if self._down_since is None:
                self._down_since = time.monotonic()
                log.error("session server %s unavailable (%s: %s): requests are served without their sessions "
                          "until it answers", self.server, type(e).__name__, e)
            raise SessionStoreUnavailable(f"session server {self.server} unavailable: {type(e).__name__}: {e}") \
                from e
        if self._down_since is not None:
            log.warning("session server %s answers again after %.1f s", self.server,
                        time.monotonic() - self._down_since)
            self._down_since = None
        return result

    def kv_get(self, session_id: str) -> Optional[bytes]:
        return self._call(self._get, self.key_prefix + session_id)

    def kv_set(self, session_id: str, value: bytes, ttl: int) -> None:
        self._call(self._set, self.key_prefix + session_id, value, ttl)

    def kv_touch(self, session_id: str, ttl: int) -> bool:
        return bool(self._call(self._touch, self.key_prefix + session_id, ttl))

    def kv_delete(self, session_id: str) -> None:
        self._call(self._delete, self.key_prefix + session_id)

    def close(self) -> None:
        """Closes this process's connection (the next call opens another)."""
        client, self._client = self._client, None
        if client is not None:
            for name in ("close", "disconnect_all"):
                f = getattr(client, name, None)
                if f is not None:
                    try:
                        f()
                    except Exception:  # closing a broken connection
                        pass
                    break

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
