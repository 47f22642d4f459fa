"""smisk.wsgi: serve any PEP 3333 (WSGI) application with smisk.core.

    from smisk.wsgi import Gateway
    import smisk.core
    smisk.core.bind("127.0.0.1:9000")
    Gateway(wsgi_app).run()

or from the command line: `smisk-wsgi module:app --bind 127.0.0.1:9000`
(also `python -m smisk.wsgi`). See docs/wsgi.md.
"""
from .gateway import ErrorStream, FileWrapper, Gateway
from .headers import HOP_BY_HOP

__all__ = ["ErrorStream", "FileWrapper", "Gateway", "HOP_BY_HOP", "main"]


def main(wsgi_app=None, appdir=None, bind=None, forks=None, handle_errors=True, cli=True, argv=None):
    """Runs a WSGI application, or the smisk-wsgi command line.

    main(wsgi_app): the Smisk 1.x form, `from smisk.wsgi import *` then
    `main(app)` at the end of the module. Serves `wsgi_app` on `bind`
    (default $SMISK_BIND, else the socket on fd 0, else once as CGI) with
    `forks` workers; with `cli` the options --bind, --forks, --max-requests,
    --backlog, --chdir (appdir) and --log-level of sys.argv (or `argv`)
    override the arguments. `handle_errors` is accepted for compatibility
    (errors are always logged and answered with 500).

    main() or main([args...]): the smisk-wsgi command line."""
    from .runner import main as run_main
    from .runner import serve

    if wsgi_app is None or isinstance(wsgi_app, (list, tuple)):
        return run_main(wsgi_app if argv is None else argv)
    if not callable(wsgi_app):
        raise TypeError(f"main() takes a WSGI application (a callable), not {type(wsgi_app).__name__}")
    return serve(wsgi_app, appdir=appdir, bind=bind, forks=forks, argv=argv, cli=cli)
