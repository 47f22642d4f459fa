"""The PEP 3333 gateway: a smisk.core.Application whose service() calls a
WSGI application.

One request at a time per process (smisk.core serves requests one after
the other), so the per-request state lives on the gateway itself and the
environ is the request's own env dict, extended in place.
"""
import logging
import os
import sys

from smisk.core import WSGIGatewayBase

log = logging.getLogger("smisk.wsgi")


def _not_bytes(what, data):
    """The TypeError for a non-bytes body block, saying what to send instead
    (a str block is the usual Python 2 habit)."""
    message = f"{what} {type(data).__name__}, not bytes (PEP 3333)"
    if isinstance(data, str):
        sample = data if len(data) <= 40 else data[:40] + "..."
        message += (f": bodies are bytes; return [b{sample!r}] or encode the str, "
                    f"e.g. {sample!r}.encode('utf-8')")
    return TypeError(message)


class FileWrapper:
    """wsgi.file_wrapper: iterates a file-like object in blocks. The gateway
    recognises it and lets the web server send the file (X-Accel-Redirect,
    X-Sendfile, X-LIGHTTPD-send-file) when `sendfile` is on and the object
    is a regular file read from its start; otherwise it streams the blocks."""

    __slots__ = ("filelike", "blksize", "close")

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        close = getattr(filelike, "close", None)
        if close is not None:
            self.close = close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration


class ErrorStream:
    """wsgi.errors: a text stream. Inside a request it writes to the FastCGI
    STDERR of that request (the web server's error log); outside one (an
    application keeping a reference) to sys.stderr."""

    __slots__ = ("_gateway",)

    def __init__(self, gateway):
        self._gateway = gateway

    def _target(self):
        req = self._gateway.request
        if req is not None and req.is_active:
            return req.errors
        return sys.stderr

    def write(self, s):
        if type(s) is not str:
            raise TypeError(f"wsgi.errors is a text stream: write() takes str, not {type(s).__name__}")
        self._target().write(s)

    def writelines(self, seq):
        for s in seq:
            self.write(s)

    def flush(self):
        self._target().flush()


class Gateway(WSGIGatewayBase):
    """Serves `wsgi_app` with smisk.core: Gateway(app).run().

    sendfile: let the web server send files of wsgi.file_wrapper (needs
    the matching web server configuration, see docs/wsgi.md).

    The per-request path (service, environ, start_response) is
    smisk.core.WSGIGatewayBase, in C; this class gives it the environ items
    every request shares, write() and _send_result (every result other
    than a one-block list or tuple of bytes) through its constructor."""

    def __init__(self, wsgi_app, sendfile=False):
        if not callable(wsgi_app):
            raise TypeError(f"the WSGI application must be callable, not {type(wsgi_app).__name__}")
        self.sendfile = sendfile
        self._errors = ErrorStream(self)
        self._shared_environ = {
            "wsgi.version": (1, 0),
            "wsgi.errors": self._errors,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            "wsgi.file_wrapper": FileWrapper,
            "smisk.app": self,
        }
        super().__init__(wsgi_app, environ=self._shared_environ, write=self.write, send_result=self._send_result)

    def run(self):
        # forks is final once run() starts (the runner sets it after
        # constructing the gateway).
        self._shared_environ["wsgi.multiprocess"] = self.forks > 0
        return super().run()

    def write(self, data):
        """The write() callable start_response returns: sent at once."""
        if type(data) is not bytes:
            raise _not_bytes("write() takes bytes: got", data)
        if self._status is None:
            raise RuntimeError("write() called before start_response()")
        if data:
            resp = self.response
            resp.write(data)
            resp.out.flush()

    def _send_result(self, result):
        """Sends what the application returned (service() sends a one-block
        list or tuple of bytes itself, with its Content-Length) and always
        calls its close()."""
        try:
            kind = type(result)
            if kind is list or kind is tuple:
                # Every block is already there: no flush per block.
                self._send_iterable(result, flush_each=False)
            elif kind is FileWrapper:
                self._send_wrapped_file(result)
            else:
                self._send_iterable(result)
            if self._status is None:
                raise RuntimeError("the WSGI application returned without calling start_response()")
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    def _send_iterable(self, result, flush_each=True):
        """Writes the blocks of `result`; with flush_each, each block is sent
        before the application is asked for the next (a generator may wait
        between them)."""
        resp = self.response
        out = resp.out
        for data in result:
            if type(data) is not bytes:
                raise _not_bytes("the WSGI application yielded", data)
            if data:
                if self._status is None:
                    raise RuntimeError("the WSGI application yielded data before calling start_response()")
                resp.write(data)
                if flush_each:
                    out.flush()

    def _send_wrapped_file(self, wrapper):
        f = wrapper.filelike
        resp = self.response
        if self.sendfile and self._status is not None and not resp.has_begun:
            path = _regular_file_at_start(f)
            if path is not None:
                # The web server sends the file and its length.
                resp.headers = [h for h in resp.headers if not _is_content_length(h)]
                resp.send_file(path)
                return
        size = max(wrapper.blksize, 65536) if isinstance(wrapper.blksize, int) else 65536
        read = f.read
        while True:
            data = read(size)
            if not data:
                break
            if type(data) is not bytes:
                raise TypeError(f"wsgi.file_wrapper read {type(data).__name__}, not bytes")
            if self._status is None:
                raise RuntimeError("the WSGI application returned without calling start_response()")
            resp.write(data)

    def error(self, typ, val, tb):
        if self.response is not None and self.response.has_begun:
            # Headers and part of the body are out: an error page appended
            # to the body would corrupt it. Log the failure instead.
            import traceback

            text = "".join(traceback.format_exception(typ, val, tb))
            log.error("error after the response began (%s %s): %s", self.request.env.get("REQUEST_METHOD"),
                      self.request.env.get("REQUEST_URI"), text.rstrip())
            try:
                self.request.errors.write(text)
            except OSError:
                pass
            return None
        log.error("error in the WSGI application: %s: %s", typ.__name__, val)
        return super().error(typ, val, tb)


def _is_content_length(line):
    if isinstance(line, bytes):
        line = line.decode("latin-1")
    return line[:15].lower() == "content-length:"


def _regular_file_at_start(f):
    name = getattr(f, "name", None)
    fileno = getattr(f, "fileno", None)
    tell = getattr(f, "tell", None)
    if not isinstance(name, (str, bytes)) or fileno is None or tell is None:
        return None
    try:
        import stat

        st = os.fstat(fileno())
        if not stat.S_ISREG(st.st_mode) or tell() != 0:
            return None
        path = os.path.abspath(os.fsdecode(name))
        # The name must still be the file we hold open.
        same = os.stat(path)
        if (same.st_dev, same.st_ino) != (st.st_dev, st.st_ino):
            return None
        return path
    except (OSError, ValueError):
        return None
