"""The ORM layer: the Elixir-style `Entity` API of Smisk 1.x applications on
SQLAlchemy 2's declarative mapping.

    from smisk.mvc.model import *

    class Kitten(Entity):
        name = Field(Unicode(100), required=True)
        color = Field(Unicode(30), default="grey")
        owner = ManyToOne("Person")

    class Person(Entity):
        name = Field(Unicode(100))
        kittens = OneToMany("Kitten")

    # the configuration: "smisk.mvc.model": {"url": "sqlite:///kittens.db"}
    Kitten(name="Mittens")           # added to the session; committed at the end of the request

Table names are the lower-cased class names (`kitten`; module-qualified as
`myapp_models_kitten` when `options_defaults['shortnames']` is false); a
class without a primary key gets an integer `id`. `Kitten.query`,
`Kitten.get(1)`, `Kitten.get_by(name='Mittens')`, `k.to_dict()`,
`k.from_dict(d)` (never the primary key unless `include_pk=True`),
`k.delete()`. The MVC Application gives every request a clean session,
commits after a leaf that returned (or redirected), rolls back after an
error (4xx included) and removes the session at the end.

Without SQLAlchemy this module still imports (with a warning): `Entity` and
`session` are None, `metadata.bind` is None, the commit and rollback
helpers do nothing."""
import logging
import re
import sys
import warnings
from typing import Any, Dict, Iterator, List, Optional

log = logging.getLogger(__name__)

options_defaults: Dict[str, Any] = {"shortnames": True, "tablename": None}

__all__ = ["sql", "func", "metadata", "session", "Entity", "Field", "ManyToOne", "OneToMany", "setup_all",
           "cleanup_all", "options_defaults", "commit_if_needed", "rollback_if_needed", "bind",
           "Integer", "Unicode", "UnicodeText", "String", "Text", "Boolean", "Float", "DateTime", "Date", "Time",
           "LargeBinary"]

try:
    import sqlalchemy as sql
    from sqlalchemy import (Boolean, Column, Date, DateTime, Float, ForeignKey, Integer, LargeBinary, MetaData,
                            String, Text, Time, Unicode, UnicodeText, func)
    from sqlalchemy.orm import (DeclarativeMeta, configure_mappers, registry, relationship, scoped_session,
                                sessionmaker)
except ImportError:  # the feature is off, the import still works (the filters import this)
    sql = func = None  # type: ignore[assignment]
    Integer = Unicode = UnicodeText = String = Text = Boolean = Float = None  # type: ignore[misc,assignment]
    DateTime = Date = Time = LargeBinary = None  # type: ignore[misc,assignment]
    warnings.warn("smisk.mvc.model needs SQLAlchemy 2 (pip install 'smisk[model]'): the ORM layer is off",
                  stacklevel=2)

    class _NoMetaData:
        bind = None

    metadata: Any = _NoMetaData()
    session: Any = None
    Entity: Any = None
    Field = ManyToOne = OneToMany = None  # type: ignore[assignment]

    def setup_all(create_tables: bool = False) -> None:
        pass

    def cleanup_all() -> None:
        pass

    def commit_if_needed(check_modified: bool = True) -> None:
        pass

    def rollback_if_needed(check_modified: bool = False) -> None:
        pass

    def bind(url: Any, **kwargs: Any) -> None:
        log.error("smisk.mvc.model: SQLAlchemy is not installed; no database")

else:
    class _MetaData(MetaData):
        """A MetaData that remembers the engine it is bound to (`bind`)."""

        bind: Any = None

    metadata = _MetaData()
    session = scoped_session(sessionmaker(autoflush=True))
    _registry = registry(metadata=metadata)
    _by_table: Dict[str, type] = {}

    def Field(type_: Any, required: bool = False, default: Any = None, primary_key: bool = False,
              **kw: Any) -> Any:
        """A column: `required` makes it NOT NULL."""
        kw.setdefault("nullable", not required and not primary_key)
        if default is not None:
            kw["default"] = default
        return Column(type_, primary_key=primary_key, **kw)

    class _Relation:
        many_to_one = False

        def __init__(self, target: Any, **kwargs: Any) -> None:
            self.target = target
            self.kwargs = kwargs

    class ManyToOne(_Relation):  # type: ignore[no-redef]
        """`owner = ManyToOne('Person')`: a column `owner_id` referencing the
        target's `id`, and the relationship."""

        many_to_one = True

    class OneToMany(_Relation):  # type: ignore[no-redef]
        """`kittens = OneToMany('Kitten')`: the list of targets whose
        ManyToOne points here."""

    # (class, key, is_many_to_one, target class, relationship) not yet paired.
    _unpaired: List[Any] = []

    def _pair(cls_name: str, key: str, many_to_one: bool, target: str, prop: Any, kwargs: Dict[str, Any]) -> None:
        """A OneToMany and the ManyToOne pointing back are two sides of one
        relation (as in Elixir): each becomes the other's back_populates."""
        if "back_populates" in kwargs or "backref" in kwargs:
            return
        for i, (c, k, m, t, p) in enumerate(_unpaired):
            if c == target and t == cls_name and m != many_to_one:
                prop.back_populates, p.back_populates = k, key
                del _unpaired[i]
                return
        _unpaired.append((cls_name, key, many_to_one, target, prop))

    def _table_name(name: str, module: str) -> str:
        fixed = options_defaults.get("tablename")
        if callable(fixed):
            return fixed(name, module)
        if options_defaults.get("shortnames", True):
            return name.lower()
        return f"{module.replace('.', '_')}_{name.lower()}"

    def _target_name(target: Any) -> str:
        return target if isinstance(target, str) else target.__name__

    class _EntityMeta(DeclarativeMeta):
        """Elixir's conventions before the declarative set-up: table name,
        `id` primary key, relation markers; a class defined again under a
        table already mapped (the application module imported a second
        time) is the first class, not an error."""

        def __new__(mcs, name: str, bases: Any, ns: Dict[str, Any], **kw: Any) -> Any:
            if ns.get("_smisk_base_") or ns.get("__abstract__") or "registry" in ns:
                return super().__new__(mcs, name, bases, ns, **kw)
            table = ns.get("__tablename__") or _table_name(name, ns.get("__module__", ""))
            previous = _by_table.get(table)
            if previous is not None and previous.__name__ == name:
                return previous
            ns = dict(ns)
            ns["__tablename__"] = table
            relations = {k: v for k, v in ns.items() if isinstance(v, _Relation)}
            for key, rel in relations.items():
                target = _target_name(rel.target)
                if rel.many_to_one:
                    col = f"{key}_id"
                    target_table = (rel.target.__tablename__ if not isinstance(rel.target, str)
                                    else _table_name(rel.target, ns.get("__module__", "")))
                    ns[col] = Column(Integer, ForeignKey(f"{target_table}.id"), nullable=True)
                    ns[key] = relationship(target, foreign_keys=f"{name}.{col}", **rel.kwargs)
                else:
                    ns[key] = relationship(target, **rel.kwargs)
                _pair(name, key, rel.many_to_one, target, ns[key], rel.kwargs)
            has_pk = any(isinstance(v, Column) and v.primary_key for v in ns.values())
            inherited_pk = any(getattr(b, "__table__", None) is not None for b in bases)
            if not has_pk and not inherited_pk:
                ns["id"] = Column(Integer, primary_key=True)
            if table in metadata.tables:  # a different class for the same table: replace its mapping
                ns.setdefault("__table_args__", {"extend_existing": True})
            cls = super().__new__(mcs, name, bases, ns, **kw)
            return cls

        def __init__(cls, name: str, bases: Any, ns: Dict[str, Any], **kw: Any) -> None:
            if getattr(cls, "_smisk_mapped_", False) and not ns.get("_smisk_base_") and \
                    _by_table.get(cls.__dict__.get("__tablename__", "")) is cls and "__table__" in cls.__dict__:
                return  # the reused first class: nothing to set up again
            base = ns.get("_smisk_base_") or ns.get("__abstract__") or "registry" in ns
            ns = dict(cls.__dict__)
            super().__init__(name, bases, ns, **kw)
            if not base:
                cls._smisk_mapped_ = True
                _by_table[getattr(cls, "__tablename__")] = cls

    class _QueryProperty:
        def __get__(self, obj: Any, cls: type) -> Any:
            return session.query(cls)

    class _EntityBase:
        """The methods every entity has (see the module doc)."""

        _smisk_base_ = True
        query = _QueryProperty()

        def __init__(self, **kwargs: Any) -> None:
            for k, v in kwargs.items():
                if not hasattr(type(self), k):
                    raise TypeError(f"{type(self).__name__} has no attribute {k!r}")
                setattr(self, k, v)
            session.add(self)

        @classmethod
        def get(cls, pk: Any) -> Any:
            return session.get(cls, pk)

        @classmethod
        def get_by(cls, **kwargs: Any) -> Any:
            return session.query(cls).filter_by(**kwargs).first()

        @classmethod
        def field_names(cls) -> List[str]:
            return [c.key for c in sql.inspect(cls).mapper.column_attrs]

        @classmethod
        def _pk_names(cls) -> List[str]:
            mapper = sql.inspect(cls).mapper
            return [mapper.get_property_by_column(c).key for c in mapper.primary_key]

        def to_dict(self, deep: Optional[Dict[str, Any]] = None, exclude: Optional[List[str]] = None) -> Dict[str, Any]:
            skip = set(exclude or ())
            out = {k: getattr(self, k) for k in self.field_names() if k not in skip}
            for rel, sub in (deep or {}).items():
                value = getattr(self, rel)
                if value is None:
                    out[rel] = None
                elif isinstance(value, (list, tuple, set)):
                    out[rel] = [v.to_dict(deep=sub) for v in value]
                else:
                    out[rel] = value.to_dict(deep=sub)
            return out

        def from_dict(self, data: Dict[str, Any], include_pk: bool = False) -> Any:
            """Sets the mapped columns named in `data`; the primary key only
            with include_pk (a client must not pick the row)."""
            names = set(self.field_names())
            if not include_pk:
                names.difference_update(self._pk_names())
            for k, v in data.items():
                if k in names:
                    setattr(self, k, v)
            return self

        def delete(self) -> None:
            session.delete(self)

        def __iter__(self) -> Iterator[str]:
            return iter(self.to_dict())

        def __repr__(self) -> str:
            pk = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._pk_names())
            return f"<{type(self).__name__} {pk}>"

    _registry.constructor = _EntityBase.__init__  # adds to the session, unlike SQLAlchemy's own
    Entity = _registry.generate_base(cls=_EntityBase, name="Entity", metaclass=_EntityMeta)

    def setup_all(create_tables: bool = False) -> None:
        """Completes every mapping; with create_tables, creates the missing
        tables in the bound database."""
        configure_mappers()
        if create_tables and metadata.bind is not None:
            metadata.create_all(metadata.bind)

    def cleanup_all() -> None:
        """Ends the session and closes the engine's connections."""
        session.remove()
        if metadata.bind is not None:
            metadata.bind.dispose()

    def _modified() -> bool:
        s = session()
        return bool(s.new or s.dirty or s.deleted)

    def commit_if_needed(check_modified: bool = True) -> None:
        """Commits the request's session (when it changed anything, unless
        check_modified is false); on failure rolls back and re-raises."""
        if session.registry.has() and (not check_modified or _modified() or session().in_transaction()):
            try:
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def rollback_if_needed(check_modified: bool = False) -> None:
        if session.registry.has() and (not check_modified or _modified()):
            session.rollback()

    def _masked(url: Any) -> str:
        try:
            return sql.engine.make_url(url).render_as_string(hide_password=True)
        except Exception:
            return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(url))

    def bind(url: Any, **kwargs: Any) -> None:
        """Binds `metadata` and `session` to a new engine for `url`
        (disposing the previous one)."""
        if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", str(url)):
            log.error("smisk.mvc.model: %r is not a database URL (scheme://...)", _masked(url))
            return
        scheme = str(url).split(":", 1)[0].lower()
        if scheme.startswith("mysql"):  # drop dead pooled connections
            kwargs.setdefault("pool_pre_ping", True)
            kwargs.setdefault("pool_recycle", 3600)
        engine = sql.create_engine(url, **kwargs)
        previous, metadata.bind = metadata.bind, engine
        session.remove()
        session.configure(bind=engine)
        if previous is not None:
            previous.dispose()
        log.info("smisk.mvc.model: bound to %s", _masked(url))

    def _config_filter(conf: Any) -> None:
        settings = conf.get("smisk.mvc.model")
        if settings is None:
            return
        if not isinstance(settings, dict) or not settings.get("url"):
            log.warning("smisk.mvc.model: a dict with a 'url' is needed to use a database")
            return
        kwargs = {}
        for k, v in settings.items():
            if k.startswith("elixir."):
                options_defaults[k[len("elixir."):]] = v
            elif k != "url":
                kwargs[k] = v
        url = settings["url"]
        if getattr(metadata.bind, "_smisk_settings_", None) == (str(url), repr(sorted(kwargs.items()))):
            return  # the same settings loaded again

        def rebind() -> None:
            bind(url, **kwargs)
            if metadata.bind is not None:
                metadata.bind._smisk_settings_ = (str(url), repr(sorted(kwargs.items())))

        from smisk.core import Application

        app = Application.current
        if app is not None and hasattr(app, "_pending_rebind_model_metadata") and metadata.bind is not None:
            app._pending_rebind_model_metadata = rebind  # at the start of the next request
        else:
            rebind()

    from smisk.config import config as _config

    _config.add_filter(_config_filter)
    if isinstance(_config.get("smisk.mvc.model"), dict):
        _config_filter(_config)
