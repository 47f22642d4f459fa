"""Data shared by the processes of one application.

`shared_dict()` is the local backend's (`smisk.ipc.bsddb`, on SQLite in a
directory private to the user); `smisk.ipc.memcached.shared_dict()` shares
a dict between machines through memcached."""
from typing import Any

__all__ = ["shared_dict"]


def shared_dict(*args: Any, **kwargs: Any) -> Any:
    """A dict shared by the processes of this application on this machine
    (see smisk.ipc.bsddb.shared_dict)."""
    from smisk.ipc.bsddb import shared_dict as local

    return local(*args, **kwargs)
