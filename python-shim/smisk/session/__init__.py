"""The session-store protocol of Smisk 1.x, and the stores that serve
`request.session` across machines.

`Store` describes what a session store does. The request session
(`request.session`) is served by smisk.core from a
smisk.core.FileSessionStore (one machine) or a smisk.core.KeyValueSessionStore
subclass: `smisk.session.memcached.MemcachedSessionStore` and
`smisk.session.redis.RedisSessionStore` (several machines sharing one
server). It holds builtin data that `marshal` can store. A `Store`
subclass can be used by application code directly, but cannot replace the
request's store."""
from typing import Any, Optional

__all__ = ["Store"]


class Store:
    """An abstract session store. Every method raises NotImplementedError."""

    ttl: int = 900
    """Seconds a session lives without being touched."""
    name: str = "SID"
    """Name of the session cookie."""

    def read(self, session_id: str) -> Optional[Any]:
        """The data of `session_id`, or None for a new session. Called at
        most once per request."""
        raise NotImplementedError("read")

    def write(self, session_id: str, data: Any) -> None:
        """Stores `data` for `session_id`."""
        raise NotImplementedError("write")

    def refresh(self, session_id: str) -> None:
        """Keeps an active but unchanged session from expiring."""
        raise NotImplementedError("refresh")

    def destroy(self, session_id: str) -> None:
        """Removes the session."""
        raise NotImplementedError("destroy")
