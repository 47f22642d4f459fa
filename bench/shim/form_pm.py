#!/usr/bin/env python3
"""python-multipart's side of bench/shim/form_bench.py: the same form
handling as form_smisk.py (text fields into a dict of str, files spooled to
disk by python-multipart's defaults: in memory up to 1 MiB, then a temp
file), either in-process (`handle`) or as a WSGI app on flup's FastCGI
server:

    bench/.venv/bin/python bench/shim/form_pm.py SOCKET_PATH
"""
import sys

from python_multipart import parse_form


def handle(content_type, content_length, stream):
    """Parses one form body; returns the summary line both apps answer."""
    fields, files = {}, []

    def on_field(f):
        fields[f.field_name.decode("utf-8", "replace")] = (f.value or b"").decode("utf-8", "replace")

    def on_file(f):
        files.append(f)

    parse_form({"Content-Type": content_type.encode("latin-1"),
                "Content-Length": str(content_length).encode()}, stream, on_field, on_file)
    try:
        sizes = sum(f.size for f in files)
    finally:
        for f in files:
            f.close()  # removes the temp file, as smisk does at the end of a request
    return summary(len(fields), sum(len(v) for v in fields.values()), len(files), sizes)


def summary(nfields, field_chars, nfiles, file_bytes):
    return f"fields={nfields} field_chars={field_chars} files={nfiles} file_bytes={file_bytes}\n"


def wsgi_app(environ, start_response):
    line = handle(environ["CONTENT_TYPE"], int(environ["CONTENT_LENGTH"]), environ["wsgi.input"])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [line.encode()]


def main(argv):
    from flup.server.fcgi import WSGIServer
    if len(argv) != 2:
        sys.exit(f"usage: {argv[0]} SOCKET_PATH")
    WSGIServer(wsgi_app, bindAddress=argv[1], multithreaded=False, multiplexed=False).run()


if __name__ == "__main__":
    main(sys.argv)
