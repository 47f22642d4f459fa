"""An MVC application using smisk.mvc.filters (tests/test_mvc_filters.py)."""
from smisk.mvc import *
from smisk.mvc.filters import DigestAuthFilter, SessionAuthFilter, confirm, sortable_entities

auth = SessionAuthFilter(create_leaf="/login")
digest = DigestAuthFilter("smisk test", users={"alice": "wonderland", "bob": {"ha1": ""}})
optional_digest = DigestAuthFilter("smisk test", users={"alice": "wonderland"}, require_authentication=False)


class Column:
    def __init__(self, name):
        self.name = name

    def asc(self):
        return (self.name, "asc")

    def desc(self):
        return (self.name, "desc")


class Query:
    def __init__(self, ordering=None):
        self.ordering = ordering

    def order_by(self, clause):
        return {"ordered_by": list(clause)}


class Kitten:
    """Stands in for an ORM entity: columns and a query."""
    name = Column("name")
    age = Column("age")
    query = Query()


class root(Controller):
    @expose(methods="POST")
    @auth.create
    def login(self, user=None):
        if user:
            return {auth.authorized_param: user}
        return {"login": "form"}

    @auth.require
    def secret(self, authorized_user=None):
        return {"user": authorized_user, "sid": request.session_id}

    @auth.destroy
    def logout(self):
        return {"bye": True}

    @confirm
    def delete_all(self, confirmed=False):
        return {"deleted": confirmed}

    @digest
    def guarded(self, authorized_user=None):
        return {"user": authorized_user}

    @optional_digest
    def maybe(self, authorized_user=None):
        return {"user": authorized_user}

    @sortable_entities(Kitten, "kittens", "name", allowed=("name", "age"))
    def kittens(self):
        return {}


if __name__ == "__main__":
    main()
