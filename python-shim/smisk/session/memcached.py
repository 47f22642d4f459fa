"""Sessions on memcached: `MemcachedSessionStore`, for several smisk hosts
sharing their sessions.

    from smisk.session.memcached import MemcachedSessionStore
    app.sessions = MemcachedSessionStore("10.0.0.5:11211")   # or a unix socket path

Needs `pymemcache` (the extra `smisk[memcached]`). Ids, framing,
verification and the ttl are smisk.core's (as for the file store): each
session is one value under `<key_prefix><id>`, set with the ttl as its
expiry; a refresh is a memcached `touch`. Memcached keeps values in memory
only, so its restart loses every session; values above the item size limit
(1 MiB by default) cannot be stored, hence `max_payload` is 1 MiB minus
the frame and item overhead. With several servers (`servers=[...]`) each
session lives on one of them (rendezvous hashing on its key): a server
that is down takes its share of the sessions with it, the others keep
serving theirs."""
import time
from typing import Any, Iterable, Optional, Union

from smisk.session.network import NetworkSessionStore, parse_server

__all__ = ["MemcachedSessionStore"]

# memcached reads an expiry above 30 days as a Unix time.
_RELATIVE_LIMIT = 30 * 24 * 3600
# The protocol reads exptime as a signed 32-bit number.
_MAX_UNIX_TIME = 2 ** 31 - 1


def expiry(ttl: int, now: Optional[float] = None) -> int:
    """The memcached exptime for a lifetime of `ttl` (≥ 1) seconds."""
    if ttl <= _RELATIVE_LIMIT:
        return int(ttl)
    return min(int(now if now is not None else time.time()) + int(ttl), _MAX_UNIX_TIME)


class MemcachedSessionStore(NetworkSessionStore):
    """MemcachedSessionStore(server='127.0.0.1:11211', *, servers=None,
    key_prefix='smisk:session:', ttl=900, name='SID', retry_after=0.5,
    connect_timeout=0.5, timeout=1.0)"""

    default_max_payload = 1024 * 1024 - 1024

    def __init__(self, server: Union[str, tuple] = "127.0.0.1:11211", *, servers: Optional[Iterable[Any]] = None,
                 **kwargs: Any) -> None:
        from pymemcache.exceptions import MemcacheUnexpectedCloseError

        super().__init__(**kwargs)
        self.connection_errors = (OSError, MemcacheUnexpectedCloseError)
        addresses = [parse_server(s, 11211) for s in (servers if servers is not None else [server])]
        if not addresses:
            raise ValueError("no memcached server")
        self._addresses = {(h if p == 0 else f"{h}:{p}"): (h if p == 0 else (h, p)) for h, p in addresses}
        self.nodes = list(self._addresses)
        self._hash: Any = None
        if len(self.nodes) > 1:
            from pymemcache.client.rendezvous import RendezvousHash

            self._hash = RendezvousHash(self.nodes)
        self.max_payload = self.default_max_payload

    def _node_for(self, key: str) -> str:
        return self.nodes[0] if self._hash is None else self._hash.get_node(key)

    def _connect(self, node: str) -> Any:
        from pymemcache.client.base import Client

        return Client(self._addresses[node], connect_timeout=self.connect_timeout, timeout=self.timeout,
                      no_delay=True, default_noreply=False)

    def _get(self, client: Any, key: str) -> Optional[bytes]:
        return client.get(key)

    def _set(self, client: Any, key: str, value: bytes, ttl: int) -> None:
        if not client.set(key, value, expire=expiry(ttl), noreply=False):
            raise OSError(f"memcached did not store {key}")

    def _touch(self, client: Any, key: str, ttl: int) -> bool:
        return bool(client.touch(key, expire=expiry(ttl), noreply=False))

    def _delete(self, client: Any, key: str) -> None:
        client.delete(key, noreply=False)
