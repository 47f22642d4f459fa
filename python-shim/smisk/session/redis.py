"""Sessions on Redis: `RedisSessionStore`, for several smisk hosts sharing
their sessions.

    from smisk.session.redis import RedisSessionStore
    app.sessions = RedisSessionStore("10.0.0.6:6379")       # or a unix socket path, db=, password=

Needs `redis` (redis-py, the extra `smisk[redis]`). Ids, framing,
verification and the ttl are smisk.core's (as for the file store): each
session is one string under `<key_prefix><id>`, written with `SET ... PX`
(millisecond expiry); a refresh is `PEXPIRE`, which finds nothing once the
session expired. Whether sessions survive a restart of Redis is Redis's
persistence setting (RDB or AOF)."""
from typing import Any, Optional, Union

from smisk.session.network import NetworkSessionStore, parse_server

__all__ = ["RedisSessionStore"]

# Far beyond any session lifetime, and well inside what Redis accepts.
_MAX_TTL = 2 ** 32


class RedisSessionStore(NetworkSessionStore):
    """RedisSessionStore(server='127.0.0.1:6379', *, db=0, password=None,
    username=None, key_prefix='smisk:session:', ttl=900, name='SID',
    retry_after=0.5, connect_timeout=0.5, timeout=1.0)"""

    def __init__(self, server: Union[str, tuple] = "127.0.0.1:6379", *, db: int = 0,
                 password: Optional[str] = None, username: Optional[str] = None, **kwargs: Any) -> None:
        import redis.exceptions

        super().__init__(**kwargs)
        self.connection_errors = (OSError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
        self.address = parse_server(server, 6379)
        self.db, self.password, self.username = db, password, username
        h, p = self.address
        self.nodes = [h if p == 0 else f"{h}:{p}"]

    def _connect(self, node: str) -> Any:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        host, port = self.address
        where = dict(unix_socket_path=host) if port == 0 else dict(host=host, port=port)
        return redis.Redis(db=self.db, password=self.password, username=self.username,
                           socket_connect_timeout=self.connect_timeout, socket_timeout=self.timeout,
                           retry=Retry(NoBackoff(), 0), **where)

    def _get(self, client: Any, key: str) -> Optional[bytes]:
        return client.get(key)

    def _set(self, client: Any, key: str, value: bytes, ttl: int) -> None:
        client.set(key, value, px=min(int(ttl), _MAX_TTL) * 1000)

    def _touch(self, client: Any, key: str, ttl: int) -> bool:
        return bool(client.pexpire(key, min(int(ttl), _MAX_TTL) * 1000))

    def _delete(self, client: Any, key: str) -> None:
        client.delete(key)
