"""Running an application: `main()` at the end of a script.

    from smisk.mvc import *
    class root(Controller): ...
    if __name__ == '__main__':
        main()

The script then takes the command line below (`--bind ADDRESS`, `--forks
N`, `--http`, ...); started by a web server or spawn-fcgi it serves the
socket on fd 0, and started as a CGI script it answers one request. The
process model (prefork workers, signals, graceful stops) is the native
core's: see Application.run()."""
import argparse
import datetime
import errno
import logging
import os
import signal
import sys
import tempfile
import threading
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import smisk.core
from smisk.config import config as _config

__all__ = [
    "absapp", "setup_appdir", "main_cli_filter", "handle_errors_wrapper", "Main", "main", "CLIOptions",
    "daemonize", "wait_for_child_processes", "control_process_runloop", "find_program_path", "parse_bind_arg",
    "extrapolate_binds", "fork_binds",
]

log = logging.getLogger(__name__)

DEFAULT_HTTP_PORT = 8080


def absapp(application: Any = None, default_app_type: type = smisk.core.Application, *args: Any,
           **kwargs: Any) -> Any:
    """The application to run: the current one (or a new `default_app_type`)
    when none is given; a class is instantiated; an instance is returned."""
    if not application:
        current = smisk.core.Application.current
        return current if current is not None else default_app_type(*args, **kwargs)
    if isinstance(application, type):
        if not issubclass(application, smisk.core.Application):
            raise ValueError(f"{application!r} is not a subclass of smisk.core.Application")
        return application(*args, **kwargs)
    if not isinstance(application, smisk.core.Application):
        raise ValueError(f"{application!r} is not a smisk.core.Application")
    return application


def setup_appdir(appdir: Optional[str] = None) -> str:
    """The application directory, also put in $SMISK_APP_DIR: `appdir`,
    else $SMISK_APP_DIR, else the directory of the main script."""
    if appdir:
        appdir = os.path.abspath(appdir)
    elif os.environ.get("SMISK_APP_DIR"):
        appdir = os.environ["SMISK_APP_DIR"]
    else:
        main_file = getattr(sys.modules.get("__main__"), "__file__", None)
        if not main_file:
            raise EnvironmentError("no application directory: pass appdir= or set SMISK_APP_DIR")
        appdir = os.path.dirname(os.path.abspath(main_file))
    os.environ["SMISK_APP_DIR"] = appdir
    return appdir


class CLIOptions(NamedTuple):
    appdir: Optional[str]
    bind: Optional[str]
    forks: Optional[int]
    spawn: Optional[int]
    chdir: Optional[str]
    umask: Optional[int]
    stdout: Optional[str]
    stderr: Optional[str]
    pidfile: Optional[str]
    http_port: Optional[int]
    http_addr: Optional[str]
    debug: bool
    autoreload: Optional[bool] = None


def _bounded_int(what: str, low: int, high: int, base: int = 10) -> Callable[[str], int]:
    """An argparse type: an integer (in `base`) from low to high."""
    def parse(text: str) -> int:
        try:
            value = int(text, base)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number{' in octal' if base == 8 else ''}, "
                                             f"not {text!r}") from None
        if not low <= value <= high:
            shown = f"{low:o}..{high:o}" if base == 8 else f"{low}..{high}"
            raise argparse.ArgumentTypeError(f"{what} must be {shown}, not {text!r}")
        return value
    return parse


_octal = _bounded_int("a umask", 0, 0o777, base=8)
_count = _bounded_int("a process count", 0, 1024)
_port = _bounded_int("a port", 0, 65535)


def cli_parser(prog: Optional[str] = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog or os.path.basename(sys.argv[0] or "app"),
                                usage="%(prog)s [options]",
                                description="Serve this smisk application over FastCGI (or HTTP with --http).")
    p.add_argument("-d", "--appdir", metavar="PATH", help="application directory")
    p.add_argument("-b", "--bind", metavar="ADDR",
                   help="listen for FastCGI on ADDR (host:port, :port, [v6]:port or a unix socket path); "
                        "default: the socket on fd 0")
    p.add_argument("-c", "--forks", type=_count, metavar="N", help="worker processes (prefork)")
    p.add_argument("-s", "--spawn", type=_count, metavar="N",
                   help="spawn N independent daemons on consecutive ports or numbered sockets")
    p.add_argument("--chdir", metavar="PATH", help="change directory before starting")
    p.add_argument("--umask", type=_octal, metavar="MASK", help="file mode creation mask, octal (022)")
    p.add_argument("--stdout", metavar="PATH", help="stdout of spawned daemons")
    p.add_argument("--stderr", metavar="PATH", help="stderr of spawned daemons")
    p.add_argument("--pidfile", metavar="PATH", help="write process ids here, one per line")
    p.add_argument("--debug", action="store_true", default=None, help="log level DEBUG")
    p.add_argument("--autoreload", action="store_true", default=None,
                   help="restart on changed modules and reload changed configuration")
    p.add_argument("-H", "--http", action="store_true", default=None,
                   help=f"serve HTTP with the built-in development server on port {DEFAULT_HTTP_PORT}")
    p.add_argument("--http-port", type=_port, metavar="PORT", help="same, on PORT")
    p.add_argument("--http-addr", metavar="HOST",
                   help="address of the HTTP server (default localhost; '*' = all interfaces)")
    return p


def main_cli_filter(appdir: Optional[str] = None, bind: Optional[str] = None, forks: Optional[int] = None,
                    argv: Optional[Sequence[str]] = None, **defaults: Any) -> CLIOptions:
    """The command line (sys.argv[1:] by default) over the given values:
    an option overrides its argument only when it was given."""
    args = cli_parser().parse_args(list(sys.argv[1:] if argv is None else argv))

    def pick(name: str, given: Any) -> Any:
        value = getattr(args, name)
        return given if value is None else value

    http_port = pick("http_port", defaults.get("http_port"))
    http_addr = pick("http_addr", defaults.get("http_addr"))
    if args.http and http_port is None:
        http_port = DEFAULT_HTTP_PORT
    if http_addr is not None and http_port is None:
        http_port = DEFAULT_HTTP_PORT
    return CLIOptions(
        appdir=pick("appdir", appdir), bind=pick("bind", bind), forks=pick("forks", forks),
        spawn=pick("spawn", defaults.get("spawn")), chdir=pick("chdir", defaults.get("chdir")),
        umask=pick("umask", defaults.get("umask")), stdout=pick("stdout", defaults.get("stdout")),
        stderr=pick("stderr", defaults.get("stderr")), pidfile=pick("pidfile", defaults.get("pidfile")),
        http_port=http_port, http_addr=http_addr, debug=bool(pick("debug", defaults.get("debug", False))),
        autoreload=pick("autoreload", defaults.get("autoreload")),
    )


def emergency_log_path() -> str:
    """Where crash tracebacks go: smisk.emergency_logfile, else
    $SMISK_LOG_DIR/error.log, else $SMISK_APP_DIR/error.log, else ./error.log."""
    configured = _config.get("smisk.emergency_logfile")
    if isinstance(configured, str) and configured:
        return configured
    for var in ("SMISK_LOG_DIR", "SMISK_APP_DIR"):
        if os.environ.get(var):
            return os.path.join(os.environ[var], "error.log")
    return os.path.abspath("error.log")


def handle_errors_wrapper(fnc: Callable[..., Any], error_cb: Callable[[int], Any] = sys.exit,
                          abort_cb: Optional[Callable[[], Any]] = None, *args: Any, **kwargs: Any) -> Any:
    """fnc(*args, **kwargs); a crash is written to the emergency log and
    stderr, then error_cb(1). KeyboardInterrupt calls abort_cb."""
    try:
        return fnc(*args, **kwargs)
    except KeyboardInterrupt:
        if abort_cb is not None:
            return abort_cb()
        return None
    except SystemExit:
        raise
    except BaseException:
        import traceback

        text = traceback.format_exc()
        path = emergency_log_path()
        try:
            stamp = datetime.datetime.now().astimezone().isoformat()
            with open(path, "a", encoding="utf-8") as f:
                f.write(f"{stamp} [{os.getpid()}] {text}\n")
            note = f"Wrote emergency log to {path}"
        except OSError as e:
            note = f"Unable to write emergency log to {path}: {e}"
        sys.stderr.write(text)
        sys.stderr.write(note + "\n")
        sys.stderr.flush()
        return error_cb(1)


# --- processes --------------------------------------------------------------

def _prepare_env(chdir: Optional[str] = None, umask: Optional[int] = None) -> None:
    if chdir:
        os.chdir(chdir)
    if umask is not None:
        os.umask(umask)


def _redirect(fd: int, target: Any, mode: int) -> None:
    if target is None:
        return
    if hasattr(target, "fileno"):
        os.dup2(target.fileno(), fd)
        return
    new = os.open(target, mode, 0o644)
    os.dup2(new, fd)
    os.close(new)


def daemonize(chdir: Optional[str] = "/", umask: Optional[int] = None, stdin: Any = "/dev/null",
              stdout: Any = "/dev/null", stderr: Any = "/dev/null") -> None:
    """Detaches this process: double fork and setsid (the intermediate
    parents leave with os._exit), then chdir, umask and the standard
    descriptors replaced by the given paths or files."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    _prepare_env(chdir, umask)
    sys.stdout.flush()
    sys.stderr.flush()
    _redirect(0, stdin, os.O_RDONLY)
    _redirect(1, stdout, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    _redirect(2, stderr, os.O_WRONLY | os.O_CREAT | os.O_APPEND)


def wait_for_child_processes(options: int = 0) -> None:
    """Waits for every child (until EINTR or ECHILD)."""
    while True:
        try:
            os.waitpid(-1, options)
        except OSError as e:
            if e.errno in (errno.ECHILD, errno.EINTR):
                return
            raise


def control_process_runloop(pids: Sequence[int], signals: Sequence[int] = (signal.SIGINT, signal.SIGQUIT,
                                                                           signal.SIGTERM),
                            cleanup: Optional[Callable[[int, Any], Any]] = None) -> None:
    """Forwards `signals` to the children `pids` and waits for them."""
    def forward(signum: int, frame: Any) -> None:
        for pid in pids:
            try:
                os.kill(pid, signum)
            except OSError:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        if cleanup is not None:
            cleanup(signum, frame)

    for s in signals:
        signal.signal(s, forward)
    wait_for_child_processes()


def find_program_path(file: str, env: Optional[Dict[str, str]] = None, default: Optional[str] = None,
                      check_access: int = os.X_OK) -> Optional[str]:
    """The path of program `file` on $PATH, or `default`."""
    if os.sep in file:
        return file if os.access(file, check_access) else default
    for directory in (env or os.environ).get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory, file)
        if os.path.isfile(candidate) and os.access(candidate, check_access):
            return candidate
    return default


def parse_bind_arg(args: Union[str, Sequence[str]]) -> Tuple[Optional[str], Optional[int], Optional[str], List[str]]:
    """(socket, port, address, remaining args) from a bind string or an
    argv list holding --bind/-b."""
    remaining: List[str] = []
    value: Optional[str] = None
    if isinstance(args, str):
        value = args
    else:
        items = list(args)
        i = 0
        while i < len(items):
            item = items[i]
            if item in ("--bind", "-b") and i + 1 < len(items):
                value = items[i + 1]
                i += 2
                continue
            if item.startswith("--bind="):
                value = item.split("=", 1)[1]
            else:
                remaining.append(item)
            i += 1
    if not value:
        return None, None, None, remaining
    if "/" in value:
        return value, None, None, remaining
    host, sep, port = value.rpartition(":")
    if not sep:
        return value, None, None, remaining  # a bare socket file name
    if not port.isdigit():
        raise ValueError(f"bad bind address {value!r}: the port must be a number")
    host = host.strip("[]")
    return None, int(port), (host if host and host != "*" else None), remaining


def extrapolate_binds(count: int, socket: Optional[str] = None, port: Optional[int] = 5000,
                      address: Optional[str] = None) -> List[str]:
    """`count` addresses: '<socket>0', '<socket>1', ... ('%d' in the name
    is replaced by the number), or consecutive ports from `port`."""
    if socket:
        if "%d" in socket:
            return [socket % i for i in range(count)]
        return [f"{socket}{i}" for i in range(count)]
    port = 5000 if port is None else port
    host = address or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return [f"{host}:{port + i}" for i in range(count)]


def fork_binds(count: int, childfunc: Callable[[int, str], Any], socket: Optional[str] = None,
               startport: Optional[int] = None, address: Optional[str] = None,
               include_calling_thread: bool = False) -> List[int]:
    """Forks one child per address; each runs childfunc(index, address).
    With include_calling_thread, the last one runs in this process."""
    binds = extrapolate_binds(count, socket, startport, address)
    pids = []
    for i, bind in enumerate(binds):
        if include_calling_thread and i == len(binds) - 1:
            childfunc(i, bind)
            break
        pid = os.fork()
        if pid == 0:
            try:
                childfunc(i, bind)
            finally:
                os._exit(0)
        pids.append(pid)
    return pids


def _started_on_fd0() -> bool:
    """True when a web server (or spawn-fcgi) handed us the socket on fd 0."""
    import socket as socketmod
    import stat

    try:
        if not stat.S_ISSOCK(os.fstat(0).st_mode):
            return False
        s = socketmod.socket(fileno=os.dup(0))
    except OSError:
        return False
    try:
        return bool(s.getsockopt(socketmod.SOL_SOCKET, socketmod.SO_ACCEPTCONN))
    except OSError:
        return False
    finally:
        s.close()


def _write_pidfile(path: str, truncate: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_TRUNC if truncate else os.O_APPEND)
    fd = os.open(path, flags, 0o644)
    try:
        if not truncate:
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
    finally:
        os.close(fd)


# --- Main -------------------------------------------------------------------

class Main:
    """main = Main(); main(application, ...) sets up and runs."""

    default_app_type: type = smisk.core.Application
    pidfile: Optional[str] = None

    def __init__(self) -> None:
        self._application: Any = None
        self._restart = False

    def __call__(self, application: Any = None, appdir: Optional[str] = None, bind: Optional[str] = None,
                 forks: Optional[int] = None, handle_errors: bool = True, cli: bool = True, config: Any = None,
                 pidfile: Optional[str] = None, chdir: Optional[str] = None, umask: Optional[int] = None,
                 spawn: Optional[int] = None, autoreload: Optional[bool] = None, *args: Any, **kwargs: Any) -> Any:
        opts = CLIOptions(appdir, bind, forks, spawn, chdir, umask, None, None, pidfile, None, None, False,
                          autoreload)
        if cli:
            opts = main_cli_filter(appdir=appdir, bind=bind, forks=forks, spawn=spawn, chdir=chdir, umask=umask,
                                   pidfile=pidfile, autoreload=autoreload)
        if opts.autoreload:
            _config.set_default("smisk.autoreload", True)
        if opts.chdir and not (opts.spawn or 0) > 0:
            os.chdir(opts.chdir)
        if opts.umask is not None and not (opts.spawn or 0) > 0:
            os.umask(opts.umask)

        def setup() -> Any:
            return self.setup(application, opts.appdir, config, *args, **kwargs)

        app = handle_errors_wrapper(setup) if handle_errors else setup()
        if opts.debug:
            from smisk.config import configure_logging

            _config.update({"logging": {"levels": {"": logging.DEBUG}}})
            configure_logging(_config["logging"])
        if opts.pidfile:
            self.pidfile = opts.pidfile
            _write_pidfile(opts.pidfile, truncate=True)
        if opts.spawn:
            return self.spawn(opts, app)
        if opts.http_port is not None:
            return self.run_http(opts, app)
        return self.run(bind=opts.bind, application=app, forks=opts.forks, handle_errors=handle_errors)

    def setup(self, application: Any = None, appdir: Optional[str] = None, config: Any = None, *args: Any,
              **kwargs: Any) -> Any:
        """Once per process: the application directory, the named
        configuration (loaded with the application directory as current
        directory), then the application."""
        if self._application is not None:
            return self._application
        appdir = setup_appdir(appdir)
        if config:
            cwd = os.getcwd()
            try:
                os.chdir(appdir)
                _config(config)
            finally:
                os.chdir(cwd)
        self._application = absapp(application, self.default_app_type, *args, **kwargs)
        return self._application

    def run(self, bind: Optional[str] = None, application: Any = None, forks: Optional[int] = None,
            handle_errors: bool = False) -> Any:
        """Binds (bind argument, else $SMISK_BIND, else the socket on fd 0)
        and serves until stopped."""
        if self.pidfile:
            _write_pidfile(self.pidfile, truncate=False)
        app = absapp(application or self._application, self.default_app_type)
        if bind:
            os.environ["SMISK_BIND"] = bind
        address = os.environ.get("SMISK_BIND")
        if address:
            if "/" not in address and ":" not in address:
                address = os.path.abspath(address)  # the core takes only paths with '/' as unix sockets
            smisk.core.bind(address)
            log.info("Listening on %s", smisk.core.listening())
        self._start_autoreload(app)
        if isinstance(forks, int):
            app.forks = forks
        result = handle_errors_wrapper(app.run) if handle_errors else app.run()
        if self._restart and not _started_on_fd0():
            argv = list(getattr(sys, "orig_argv", None) or [sys.executable] + sys.argv)
            log.info("restarting %s", argv)
            smisk.core.unbind()
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os.execv(sys.executable, [sys.executable] + argv[1:])
        return result

    def _start_autoreload(self, app: Any) -> None:
        if not (_config.setting("smisk.autoreload.modules") or _config.setting("smisk.autoreload.config")):
            return
        from smisk.autoreload import Autoreloader

        reloader = Autoreloader()
        reloader.main = self
        reloader.app = app
        reloader.start()

    def run_deferred(self, signal_parent_after_exit: Optional[int] = signal.SIGTERM, keepalive: bool = False,
                     *args: Any, **kwargs: Any) -> int:
        """Runs the application in a child process; returns its pid. The
        child signals this process when it ends."""
        parent = os.getpid()
        pid = os.fork()
        if pid:
            return pid
        code = 0
        try:
            while True:
                self.run(*args, **kwargs)
                if not keepalive:
                    break
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        finally:
            if signal_parent_after_exit:
                try:
                    os.kill(parent, signal_parent_after_exit)
                except OSError:
                    pass
            os._exit(code)

    def spawn(self, opts: CLIOptions, app: Any) -> List[int]:
        """--spawn N: N daemons, one per address."""
        sock, port, address, _ = parse_bind_arg(opts.bind or "")

        def child(index: int, bind: str) -> None:
            print(f"server {os.getpid()} starting at {bind}", flush=True)
            daemonize(chdir=opts.chdir or "/", umask=opts.umask, stdout=opts.stdout or "/dev/null",
                      stderr=opts.stderr or "/dev/null")
            self.run(bind=bind, application=app)

        return fork_binds(opts.spawn or 0, child, socket=sock, startport=port, address=address)

    def run_http(self, opts: CLIOptions, app: Any) -> int:
        """--http: the application in a child process on a private unix
        socket, the development HTTP server in this one."""
        from smisk.util import httpd

        host = opts.http_addr or "localhost"
        host = "" if host == "*" else host
        private = tempfile.mkdtemp(prefix="smisk-httpd-")  # mode 0700
        sock = os.path.join(private, "app.sock")
        server = httpd.Server((host, opts.http_port or DEFAULT_HTTP_PORT), fcgi_address=sock)
        stopping = threading.Event()

        def stop(signum: int, frame: Any) -> None:
            if not stopping.is_set():
                stopping.set()
                threading.Thread(target=server.shutdown, daemon=True).start()

        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, stop)
        child = self.run_deferred(bind=sock, application=app, forks=opts.forks)
        try:
            import time

            deadline = time.monotonic() + 30
            while not os.path.exists(sock) and time.monotonic() < deadline and not stopping.is_set():
                time.sleep(0.02)
            shost, sport = server.naddr
            print(f"httpd listening on {shost or '*'}:{sport} backed by application {child}", flush=True)
            server.serve_forever(poll_interval=0.25)
        finally:
            server.server_close()
            _stop_child(child)
            for name in os.listdir(private):
                try:
                    os.unlink(os.path.join(private, name))
                except OSError:
                    pass
            os.rmdir(private)
        return 0


def _stop_child(pid: int, grace: float = 2.0) -> None:
    import time

    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:
        pass


main = Main()
