"""Restart on changed source files, reload a changed configuration.

Turned on by `main(autoreload=True)`, `--autoreload`, or the configuration
key `smisk.autoreload` (`smisk.autoreload.modules` and
`smisk.autoreload.config` switch the two halves). `Main.run` starts an
`Autoreloader` in the process that serves, or under prefork (`forks > 0`)
in the supervisor:

* **Modules.** Every `frequency` seconds a monitor thread compares the
  modification times of the files behind `sys.modules` (`.pyc` → its
  `.py`; a module imported from a zip archive → the archive). A changed or
  deleted file stops the monitor, asks the server to stop after the
  current request (`Application.exit()`: under prefork the supervisor
  stops every worker gracefully) and flags a restart, which `Main.run`
  performs by executing the program again (same PID, same command line).
* **Configuration.** The configuration files loaded (`config.sources`) are
  checked at the start of a request, at most every `frequency` seconds, in
  the thread that serves it (in every worker under prefork): a changed or
  deleted file reloads the configuration there, never from the monitor
  thread. `smisk.mvc` applications call `before_request()` themselves;
  other applications call it at the start of `service()`.

A started program that was handed its socket on fd 0 by a web server is
not re-executed (the web server restarts it)."""
import logging
import os
import re
import sys
import threading
import time
import zipfile
from typing import Any, Dict, Iterable, Optional, Pattern, Tuple

from smisk.util.threads import Monitor

__all__ = ["Autoreloader", "before_request", "module_file"]

log = logging.getLogger(__name__)

_active: Optional["Autoreloader"] = None


def module_file(module: Any) -> Optional[str]:
    """The file whose change means `module` changed: its source (for a
    `.pyc`, the `.py` next to it when there is one), the zip archive it was
    imported from, or None (built-in, namespace or frozen modules)."""
    path = getattr(module, "__file__", None)
    if not isinstance(path, str) or not path:
        return None
    if path.endswith((".pyc", ".pyo")):
        source = path[:-1]
        if "__pycache__" in path:  # pkg/__pycache__/mod.cpython-311.pyc → pkg/mod.py
            head, tail = os.path.split(path)
            source = os.path.join(os.path.dirname(head), tail.split(".", 1)[0] + ".py")
        path = source if os.path.exists(source) else path
    if not os.path.exists(path):
        archive = path
        for _ in range(64):  # walk up to the archive: /x/app.zip/pkg/mod.py → /x/app.zip
            parent = os.path.dirname(archive)
            if parent == archive:
                break
            archive = parent
            if os.path.isfile(archive):
                return archive if zipfile.is_zipfile(archive) else None
        return path  # gone: a deleted module counts as a change
    return path


def _stamp(path: str) -> Optional[Tuple[int, int]]:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


class Autoreloader(Monitor):
    """Autoreloader(frequency=1, match=None): `match` is a compiled regular
    expression on module names (None: every module)."""

    def __init__(self, frequency: float = 1, match: Optional[Pattern[str]] = None) -> None:
        super().__init__(self._tick, None, frequency)
        self.match = match
        self.main: Any = None  # the smisk.util.main.Main that re-executes
        self.app: Any = None
        self.modules_on = True
        self.config_on = True
        self._modules: Dict[str, Optional[Tuple[int, int]]] = {}
        self._config: Dict[str, Optional[Tuple[int, int]]] = {}
        self._config_checked = 0.0
        self._lock = threading.Lock()
        self.restarting = False

    # --- set-up -------------------------------------------------------------

    def start(self) -> None:
        """Forgets recorded times, records the config files to watch and
        the current modules, and starts the module monitor."""
        global _active
        from smisk.config import config

        self.modules_on = bool(config.setting("smisk.autoreload.modules"))
        self.config_on = bool(config.setting("smisk.autoreload.config"))
        self._modules = {}
        self._watch_config()
        if self.modules_on:
            self.check_modules()  # first sighting records the times
            super().start()
        _active = self

    def _module_paths(self) -> Iterable[str]:
        seen = set()
        for name, module in list(sys.modules.items()):
            if module is None or (self.match is not None and not self.match.search(name)):
                continue
            path = module_file(module)
            if path is not None and path not in seen:
                seen.add(path)
                yield path

    def _watch_config(self) -> None:
        from smisk.config import config

        self._config = {}
        if self.config_on:
            for key, _ in config.sources:
                if isinstance(key, str):
                    self._config[key] = _stamp(key)
        self._config_checked = time.monotonic()

    # --- checks -------------------------------------------------------------

    def check_modules(self) -> Optional[str]:
        """The first changed module file, if any (recording new ones)."""
        for path in self._module_paths():
            now = _stamp(path)
            if path not in self._modules:
                self._modules[path] = now
            elif self._modules[path] != now:
                return path
        return None

    def _tick(self) -> None:
        if self.restarting:
            return
        changed = self.check_modules()
        if changed is not None:
            self.on_module_modified(changed)

    def check_config(self) -> None:
        """In the serving thread: reloads the configuration when a watched
        file changed or went away (at most every `frequency` seconds)."""
        if not self.config_on or time.monotonic() - self._config_checked < self.frequency:
            return
        self._config_checked = time.monotonic()
        for path, stamp in list(self._config.items()):
            if _stamp(path) != stamp:
                self.on_config_modified(path)
                return

    # --- hooks --------------------------------------------------------------

    def on_module_modified(self, path: str) -> None:
        """Stops the monitor and the server; Main.run then re-executes."""
        log.info("%s changed: restarting", path)
        self.restarting = True
        self.stop()
        if self.main is not None:
            self.main._restart = True
        app = self.app
        if app is None:
            from smisk.core import Application

            app = Application.current
        if app is not None:
            app.exit()

    def on_config_modified(self, path: str) -> None:
        """Reloads the configuration (in the serving thread) and watches the
        files it now consists of."""
        from smisk.config import config

        log.info("%s changed: reloading the configuration", path)
        config.reload()
        self._watch_config()


def before_request() -> None:
    """Applies a changed configuration before a request (cheap: a clock
    read, and a stat per configuration file once per `frequency`)."""
    reloader = _active
    if reloader is not None:
        reloader.check_config()
