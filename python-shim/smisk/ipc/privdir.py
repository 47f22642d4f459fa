"""Directories private to the current user: where shared dicts keep their
files. Nothing another user can write to, or replace with a symlink, is
ever used (a pickle read from such a place would run their code)."""
import os
import stat
import tempfile
from typing import Optional

__all__ = ["ensure_private_dir", "default_home"]


def ensure_private_dir(path: str) -> str:
    """Creates `path` (mode 0700) if missing; an existing one must be a real
    directory (not a symlink) owned by us without group or other
    permissions, else PermissionError. Returns the absolute path."""
    path = os.path.abspath(path)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise PermissionError(f"{path}: not a directory of its own (a symlink or another file)")
    if st.st_uid != os.geteuid():
        raise PermissionError(f"{path}: owned by uid {st.st_uid}, not by this user ({os.geteuid()})")
    if st.st_mode & 0o077:
        raise PermissionError(f"{path}: mode {stat.S_IMODE(st.st_mode):04o}; group and others must have no access")
    return path


def default_home(name: str, base: Optional[str] = None) -> str:
    """`$XDG_RUNTIME_DIR/smisk-<name>` when that runtime directory is ours,
    else `<tempdir>/smisk-<uid>/<name>`; both levels checked."""
    if "/" in name or name in ("", ".", ".."):
        raise ValueError(f"not a usable name for a directory: {name!r}")
    runtime = base if base is not None else os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        try:
            ensure_private_dir(runtime)
            return ensure_private_dir(os.path.join(runtime, f"smisk-{name}"))
        except (PermissionError, FileNotFoundError):
            pass
    parent = ensure_private_dir(os.path.join(tempfile.gettempdir(), f"smisk-{os.geteuid()}"))
    return ensure_private_dir(os.path.join(parent, name))
