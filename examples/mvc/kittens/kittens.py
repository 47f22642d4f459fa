#!/usr/bin/env python3
"""Kittens: an ORM application (smisk.mvc.model, SQLAlchemy 2).

    GET  /                 every kitten (HTML from templates/, or JSON: /.json)
    POST /create           name=...&color=...  (then a redirect to the new kitten)
    GET  /kitten/<id>      one kitten (404 when there is none)

The database is $KITTENS_DATABASE (a SQLAlchemy URL such as
`postgresql+psycopg://user@/db?host=/run/postgresql`), else the SQLite
file kittens.db in the current directory; a `smisk.mvc.model` entry in
kittens.conf (or kittens-user.conf) overrides both. The tables are created
on start. Each request has its own ORM session,
committed when the leaf returns or redirects and rolled back when it raises
(a 400 for a missing name writes nothing)."""
import os

from smisk.mvc import *
from smisk.mvc.model import *


class Kitten(Entity):
    name = Field(Unicode(100), required=True)
    color = Field(Unicode(30), default="grey")


class root(Controller):
    @expose(methods=("GET", "HEAD"))
    def __call__(self):
        return {"kittens": [k.to_dict() for k in Kitten.query.order_by(Kitten.id)]}

    @expose(methods="POST")
    def create(self, name="", color="grey"):
        kitten = Kitten(name=name[:100], color=(color or "grey")[:30])
        if not name.strip():
            raise http.BadRequest("a kitten needs a name")  # rolled back: nothing is stored
        session.flush()  # assigns the id; the commit follows the redirect
        redirect_to(f"/kitten/{kitten.id}", status=http.SeeOther)

    @expose(methods=("GET", "HEAD"))
    def kitten(self, id):
        kitten = Kitten.get(int(id)) if str(id).isdigit() else None
        if kitten is None:
            raise http.NotFound(f"no kitten {id}")
        return {"kitten": kitten.to_dict()}


# A default only: the configuration files may name another database.
config.set_default("smisk.mvc.model", {"url": os.environ.get("KITTENS_DATABASE") or "sqlite:///kittens.db"})

if __name__ == "__main__":
    main(config="kittens")
