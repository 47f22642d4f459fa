#!/usr/bin/env python3
"""A key-value store over HTTP: GET, PUT and DELETE /entry/<key>.

    PUT    /entry/colour        body {"value": "blue"} (JSON, YAML, XML-RPC or a form)
    GET    /entry/colour.json   → {"key": "colour", "value": "blue"}
    GET    /entry/colour        with Accept: application/x-yaml → YAML
    DELETE /entry/colour
    GET    /                    → every key

The routes that map /entry/<key> to the leaves are in kvstore.conf. The
store lives in the serving process (run it without --forks)."""
from smisk.mvc import *


class root(Controller):
    def __init__(self):
        self.entries = {}

    @expose(methods=("GET", "HEAD"))
    def __call__(self):
        """Every key in the store."""
        return {"keys": sorted(self.entries)}

    @expose(methods=("GET", "HEAD"))
    def get(self, key):
        """The value stored under `key`."""
        if key not in self.entries:
            raise http.NotFound(f"no entry {key!r}")
        return {"key": key, "value": self.entries[key]}

    @expose(methods=("PUT", "POST"))
    def set(self, key, value):
        """Stores `value` under `key`."""
        created = key not in self.entries
        self.entries[key] = value
        if created:
            response.status = http.Created
        return {"key": key, "value": value}

    @expose(methods="DELETE")
    def delete(self, key):
        """Removes `key`."""
        if self.entries.pop(key, None) is None:
            raise http.NotFound(f"no entry {key!r}")
        return {"deleted": key}


if __name__ == "__main__":
    main(config="kvstore")
