"""smisk-wsgi: run a WSGI application as a FastCGI server, gunicorn style.

    smisk-wsgi module:app --bind ADDRESS [--forks N] [--max-requests N]
               [--allow LIST] [--socket-mode MODE --socket-owner U --socket-group G]

Exit status: 0 after a graceful stop (SIGTERM, SIGINT), 2 for a usage
error (bad option, module path or address), 1 when importing the
application raises.
"""
import argparse
import importlib
import logging
import os
import sys
import traceback

import smisk
import smisk.core

from .gateway import Gateway

log = logging.getLogger("smisk.wsgi")

EPILOG = """\
ADDRESS: a unix socket path (anything containing '/'), HOST:PORT, :PORT or
*:PORT (all IPv4 interfaces), [IPV6]:PORT. Port 0 picks a free port. Prefixed
with scgi: (scgi:/run/app.sock, scgi:127.0.0.1:4000) the socket speaks SCGI
instead of FastCGI. Without --bind the listening socket is fd 0 (started by
a web server or spawn-fcgi; --protocol says which it speaks); with no socket
there, one request is served as CGI.

Who may connect: a unix socket file gets --socket-mode (default 0660: its
owner and group), --socket-owner and --socket-group before it appears; run
the web server as a member of that group. A TCP listener serves only the
peers of --allow (addresses and CIDR networks, e.g. 10.0.0.5,10.1.0.0/16,
fd00::/8, or 'any'); without it FCGI_WEB_SERVER_ADDRS (same form), else
loopback peers only, so a wildcard bind refuses remote web servers until
they are named. Other peers are closed unread and logged once per address.

Signals: SIGTERM/SIGINT stop gracefully (requests in flight are answered),
SIGHUP restarts the workers gracefully, SIGUSR1 stops after the current
request.
"""


class UsageError(Exception):
    pass


def parse_args(argv, app_given=False):
    """The command line; with `app_given` (smisk.wsgi.main(app) in a script)
    there is no MODULE:APP argument and options default to None."""
    p = argparse.ArgumentParser(
        prog="smisk-wsgi" if not app_given else os.path.basename(sys.argv[0] or "app"),
        description="Serve a WSGI (PEP 3333) application over FastCGI or SCGI with smisk.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if not app_given:
        p.add_argument("app", metavar="MODULE[:APP]",
                       help="the application: module path and attribute (default attribute: "
                            "'application', then 'app'); 'pkg.mod:make_app()' calls a factory")
    p.add_argument("-b", "--bind", metavar="ADDRESS", help="address to listen on (default: fd 0)")
    p.add_argument("--protocol", choices=["fastcgi", "scgi"], default=None,
                   help="protocol of fd 0 (and of --bind without a scgi:/fcgi: prefix); default fastcgi")
    p.add_argument("-w", "--forks", "--workers", dest="forks", type=int, default=0, metavar="N",
                   help="worker processes under a supervisor; 0 (default) serves in this process")
    p.add_argument("--max-requests", type=int, default=0, metavar="N",
                   help="recycle a worker after N requests (0: never)")
    p.add_argument("--backlog", type=int, default=0, metavar="N",
                   help="listen backlog (default: the system maximum)")
    p.add_argument("--allow", action="append", metavar="LIST",
                   help="TCP peers (web servers) to serve: addresses and CIDR networks, comma-separated, "
                        "or 'any'; repeatable (default: $FCGI_WEB_SERVER_ADDRS, else loopback only)")
    p.add_argument("--socket-mode", type=octal_mode, metavar="MODE",
                   help="mode of the unix socket file, in octal (default 0660)")
    p.add_argument("--socket-owner", metavar="USER", help="owner of the unix socket file (name or uid; needs root)")
    p.add_argument("--socket-group", metavar="GROUP",
                   help="group of the unix socket file (name or gid), e.g. the web server's group")
    p.add_argument("--chdir", metavar="DIR", help="change to DIR before loading the application")
    p.add_argument("--sendfile", action="store_true",
                   help="answer wsgi.file_wrapper responses with the web server's sendfile header "
                        "(X-Accel-Redirect for nginx: needs an internal location for the files)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"],
                   help="logging level (default info)")
    p.add_argument("--version", action="version", version=f"smisk-wsgi {smisk.__version__}")
    if app_given:
        p.set_defaults(forks=None, max_requests=None, log_level=None)
    args = p.parse_args(argv)
    if args.forks is not None and (args.forks < 0 or args.forks > smisk.core.MAX_FORKS):
        p.error(f"--forks must be between 0 and {smisk.core.MAX_FORKS}, not {args.forks}")
    if args.max_requests is not None and args.max_requests < 0:
        p.error(f"--max-requests must be >= 0, not {args.max_requests}")
    if args.bind is None and (args.socket_mode is not None or args.socket_owner or args.socket_group):
        p.error("--socket-mode, --socket-owner and --socket-group need --bind PATH")
    return p, args


def octal_mode(text):
    try:
        return int(text, 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an octal mode: {text!r} (e.g. 0660)") from None


def load_app(spec):
    """Imports MODULE[:EXPR] with the current directory on sys.path."""
    module_name, _, expr = spec.partition(":")
    if not module_name or not all(part.isidentifier() for part in module_name.split(".")):
        raise UsageError(f"bad application path {spec!r}: expected MODULE[:APP], e.g. myproject.wsgi:application")
    call = expr.endswith("()")
    if call:
        expr = expr[:-2]
    if expr and not all(part.isidentifier() for part in expr.split(".")):
        raise UsageError(f"bad application name {expr!r} in {spec!r}: expected a dotted attribute name")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name is not None and (module_name == e.name or module_name.startswith(e.name + ".")):
            raise UsageError(f"cannot import {module_name!r}: {e}") from None
        raise
    names = expr.split(".") if expr else None
    if names is None:
        for candidate in ("application", "app"):
            if hasattr(module, candidate):
                names = [candidate]
                break
        else:
            raise UsageError(f"module {module_name!r} has no 'application' or 'app'; name it: {module_name}:NAME")
    obj = module
    for i, name in enumerate(names):
        try:
            obj = getattr(obj, name)
        except AttributeError:
            raise UsageError(f"{module_name!r} has no attribute {'.'.join(names[:i + 1])!r}") from None
    if call:
        obj = obj()
    if not callable(obj):
        raise UsageError(f"{spec!r} is a {type(obj).__name__}, not a WSGI application (not callable)")
    return obj


class RunnerGateway(Gateway):
    """Logs the life of each serving process."""

    def application_will_start(self):
        if self.forks > 0:
            log.info("Booting worker %d with pid: %d", self.worker_index, os.getpid())

    def application_did_stop(self):
        if self.forks > 0:
            log.info("Worker %d exiting (pid: %d)", self.worker_index, os.getpid())


def _log_to_stderr(level):
    # Only our own logger: the application's logging (root, or a framework's
    # default handler on wsgi.errors) stays as the application set it up.
    if not any(getattr(h, "_smisk_wsgi", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s",
                                               "%Y-%m-%d %H:%M:%S %z"))
        handler._smisk_wsgi = True
        log.addHandler(handler)
    log.setLevel(getattr(logging, level.upper()))
    log.propagate = False


def serve(wsgi_app, appdir=None, bind=None, forks=None, argv=None, cli=True):
    """smisk.wsgi.main(wsgi_app, ...): serves an application object given by
    a script (the Smisk 1.x way). Command-line options, when `cli`, override
    only what they name."""
    parser, args = parse_args(sys.argv[1:] if argv is None else argv, app_given=True) if cli else (None, None)

    def option(name, given):
        value = getattr(args, name, None) if args is not None else None
        return given if value is None else value

    bind = option("bind", bind) or os.environ.get("SMISK_BIND") or None
    forks = option("forks", forks) or 0
    appdir = option("chdir", appdir)
    _log_to_stderr(option("log_level", None) or "info")
    if appdir:
        os.chdir(appdir)
    if option("protocol", None) is not None:
        smisk.core.set_protocol(option("protocol", None))
    if bind is not None:
        try:
            smisk.core.bind(bind, option("backlog", 0))
        except (OSError, ValueError) as e:
            if parser is not None:
                parser.error(f"cannot listen on {bind!r}: {e}")
            raise
        log.info("Listening at: %s", smisk.core.listening())
    gateway = RunnerGateway(wsgi_app, sendfile=bool(option("sendfile", False)))
    gateway.forks = forks
    gateway.max_requests = option("max_requests", None) or 0
    try:
        gateway.run()
    except KeyboardInterrupt:
        log.info("Stopped (SIGINT)")
    finally:
        if bind is not None:
            smisk.core.unbind()
    return 0


def main(argv=None):
    parser, args = parse_args(sys.argv[1:] if argv is None else argv)
    _log_to_stderr(args.log_level)
    if args.chdir:
        try:
            os.chdir(args.chdir)
        except OSError as e:
            parser.error(f"--chdir {args.chdir}: {e.strerror}")
        sys.path.insert(0, os.getcwd())
    try:
        wsgi_app = load_app(args.app)
    except UsageError as e:
        parser.error(str(e))
    except Exception:
        traceback.print_exc()
        log.error("Failed to load the application %r", args.app)
        return 1
    log.info("Starting smisk-wsgi %s (pid: %d)", smisk.__version__, os.getpid())
    if args.protocol is not None:
        smisk.core.set_protocol(args.protocol)
    allow = ",".join(args.allow) if args.allow else None
    if allow is not None:
        try:
            smisk.core.set_allow(allow)
        except ValueError as e:
            parser.error(f"--allow: {e}")
    if args.bind is not None:
        try:
            smisk.core.bind(args.bind, args.backlog, mode=args.socket_mode, owner=args.socket_owner,
                            group=args.socket_group)
        except (OSError, ValueError) as e:
            parser.error(f"cannot listen on {args.bind!r}: {e}")
        log.info("Listening at: %s", smisk.core.listening())
    else:
        log.info("Listening at: fd 0 (socket from the parent process)")
    gateway = RunnerGateway(wsgi_app, sendfile=args.sendfile)
    gateway.forks = args.forks
    gateway.max_requests = args.max_requests
    log.info("Application: %s; %s", args.app,
             f"{args.forks} worker processes" if args.forks else "serving in this process")
    try:
        gateway.run()
    except KeyboardInterrupt:
        log.info("Stopped (SIGINT)")
    except ValueError as e:  # a malformed FCGI_WEB_SERVER_ADDRS
        log.error("%s", e)
        return 2
    except OSError as e:
        log.error("%s", e)
        return 2 if args.bind is None else 1
    else:
        log.info("Stopped")
    finally:
        if args.bind is not None:
            smisk.core.unbind()
    return 0
