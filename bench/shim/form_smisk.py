#!/usr/bin/env python3
"""smisk.core's side of bench/shim/form_bench.py: reads request.post and
request.files (the library parses the body while streaming it and spools
file parts to disk) and answers the summary line form_pm.py answers.

    .venv/bin/python bench/shim/form_smisk.py SOCKET_PATH
"""
import sys

from smisk.core import Application, bind


class FormApp(Application):
    def service(self):
        post, files = self.request.post, self.request.files
        field_chars = sum(len(v) for v in post.values())
        file_bytes = sum(f["size"] for f in files.values())
        self.response.headers.append("Content-Type: text/plain")
        self.response.write(f"fields={len(post)} field_chars={field_chars} files={len(files)} "
                            f"file_bytes={file_bytes}\n")


def main(argv):
    if len(argv) != 2:
        sys.exit(f"usage: {argv[0]} SOCKET_PATH")
    bind(argv[1])
    FormApp().run()


if __name__ == "__main__":
    main(sys.argv)
