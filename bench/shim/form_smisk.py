#!/usr/bin/env python3
"""smisk.core's side of bench/shim/form_bench.py: reads request.post and
request.files (the library parses the body while streaming it and spools
file parts to disk) and answers the summary line form_pm.py answers. On
SCRIPT_NAME /drain it only reads the body (the transport's share).

    .venv/bin/python bench/shim/form_smisk.py SOCKET_PATH
"""
import sys

from smisk.core import Application, bind


class FormApp(Application):
    def service(self):
        if self.request.env.get("SCRIPT_NAME") == "/drain":
            return self.drain()
        post, files = self.request.post, self.request.files
        field_chars = sum(len(v) for v in post.values())
        file_bytes = sum(f["size"] for f in files.values())
        self.response.headers.append("Content-Type: text/plain")
        self.response.write(f"fields={len(post)} field_chars={field_chars} files={len(files)} "
                            f"file_bytes={file_bytes}\n")


    def drain(self):
        """The transport alone: reads the body and drops it (no parsing)."""
        n = 0
        while True:
            chunk = self.request.input.read(262144)
            if not chunk:
                break
            n += len(chunk)
        self.response.headers.append("Content-Type: text/plain")
        self.response.write(f"drained={n}\n")


def main(argv):
    if len(argv) != 2:
        sys.exit(f"usage: {argv[0]} SOCKET_PATH")
    bind(argv[1])
    FormApp().run()


if __name__ == "__main__":
    main(sys.argv)
