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


def main(argv=None):
    """The smisk-wsgi command line (see smisk.wsgi.runner)."""
    from .runner import main as run_main

    return run_main(argv)
