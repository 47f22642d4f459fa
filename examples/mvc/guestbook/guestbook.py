#!/usr/bin/env python3
"""A guestbook: Mako templates (templates/) and sessions.

    GET  /            the messages and how often you visited (a session)
    POST /sign        name=...&message=...  (then a redirect to /)
    GET  /messages.json   the messages as JSON: the same leaf, no template

Templates escape with `|h` (smisk's default filter is `str`, see
docs/legacy.md); templates/errors/404.html is the page for unknown paths."""
import time

from smisk.mvc import *


class root(Controller):
    def __init__(self):
        self.entries = []

    def __call__(self):
        session = request.session if isinstance(request.session, dict) else {}
        session["visits"] = session.get("visits", 0) + 1
        request.session = session
        return {"entries": self.entries[-20:], "visits": session["visits"]}

    @expose(methods="POST")
    def sign(self, name, message):
        if not name.strip() or not message.strip():
            raise http.BadRequest("name and message are required")
        self.entries.append({"name": name[:100], "message": message[:2000], "time": int(time.time())})
        redirect_to(root, status=http.SeeOther)

    def messages(self):
        return {"entries": self.entries}


if __name__ == "__main__":
    main(config="guestbook")
