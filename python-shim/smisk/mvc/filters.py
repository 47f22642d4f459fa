"""Leaf filters for common jobs: confirmation tokens (`confirm`), logins
kept in the session (`SessionAuthFilter`), HTTP Digest authentication
(`DigestAuthFilter`, RFC 7616) and sorting ORM results
(`sortable_entities`).

Imports without SQLAlchemy; `sortable_entities` needs it only to list an
entity's columns when no `allowed` list is given."""
import hashlib
import hmac
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Dict, Iterable, Optional, Tuple

from smisk.mvc import http
from smisk.mvc.decorators import LeafFilter, leaf_filter

__all__ = ["confirm", "AuthFilter", "SessionAuthFilter", "DigestAuthFilter", "sortable_entities"]

log = logging.getLogger(__name__)


def _request() -> Any:
    from smisk.core import Application

    app = Application.current
    return app.request if app is not None else None


def _response() -> Any:
    from smisk.core import Application

    app = Application.current
    return app.response if app is not None else None


def _session_dict(create: bool) -> Optional[Dict[str, Any]]:
    """A copy of the request's session when it is a dict (with `create`, an
    empty one otherwise). Changes are saved with _save_session()."""
    session = _request().session
    if isinstance(session, dict):
        return dict(session)
    return {} if create else None


def _save_session(session: Dict[str, Any]) -> None:
    _request().session = session


# --- confirm ----------------------------------------------------------------

@leaf_filter
def confirm(leaf: Any, *args: Any, **params: Any) -> Any:
    """The leaf gets `confirmed`: True when the request's `confirm_token`
    is the one this session was given last time. An unconfirmed answer
    carries a new `confirm_token` for the client to send back."""
    from smisk.core import uid

    token = params.pop("confirm_token", None)
    session = _session_dict(create=False)
    stored = session.get("confirm_token") if session is not None else None
    confirmed = bool(isinstance(token, str) and isinstance(stored, str) and
                     hmac.compare_digest(token.encode(), stored.encode()))
    rsp = leaf(*args, confirmed=confirmed, **params)
    session = _session_dict(create=True) or {}
    if confirmed:
        session.pop("confirm_token", None)
        if isinstance(rsp, dict):
            rsp.pop("confirm_token", None)
    else:
        session["confirm_token"] = fresh = uid()
        if not isinstance(rsp, dict):
            rsp = {}
        rsp["confirm_token"] = fresh
    _save_session(session)
    return rsp


# --- login in the session ---------------------------------------------------

class AuthFilter(LeafFilter):
    """Authentication around leaves: `require` (also the filter itself)
    lets only authorized users through, `create` wraps the login leaf,
    `destroy` the logout leaf. Subclasses say who is `authorized`."""

    authorized_param = "authorized_user"
    create_leaf: Any = None

    def __init__(self, create_leaf: Any = None, authorized_param: Optional[str] = None) -> None:
        if create_leaf is not None:
            self.create_leaf = create_leaf
        if authorized_param is not None:
            self.authorized_param = authorized_param

    @property
    def authorized(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.authorized")

    @property
    def have_valid_create_leaf(self) -> bool:
        from smisk.mvc.control import uri_for

        leaf = self.create_leaf
        return isinstance(leaf, str) or (leaf is not None and uri_for(leaf) is not None)

    def will_authorize(self, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
        """Before the login leaf runs."""

    def did_authorize(self, user: Any, rsp: Any, exc: Optional[BaseException]) -> None:
        """After the login leaf named a user."""

    def did_fail(self) -> Any:
        """A request without authorization: 401, or a redirect to the login."""
        if self.have_valid_create_leaf:
            from smisk.mvc.helpers import redirect_to

            redirect_to(self.create_leaf)
        raise http.Unauthorized()

    def create(self, leaf: Any) -> Any:
        def login(inner: Any, *args: Any, **kwargs: Any) -> Any:
            self.will_authorize(args, kwargs)
            exc: Optional[http.HTTPExc] = None
            try:
                rsp = inner(*args, **kwargs)
            except http.HTTPExc as e:
                rsp, exc = None, e
            if isinstance(rsp, dict) and rsp.get(self.authorized_param):
                self.did_authorize(rsp[self.authorized_param], rsp, exc)
            if exc is not None:
                raise exc
            return rsp
        return self.filter_proxy(leaf, login)

    def require(self, leaf: Any) -> Any:
        def required(inner: Any, *args: Any, **kwargs: Any) -> Any:
            user = self.authorized
            if not user:
                return self.did_fail()
            kwargs[self.authorized_param] = user
            return inner(*args, **kwargs)
        return self.filter_proxy(leaf, required)

    __call__ = require

    def destroy(self, leaf: Any) -> Any:
        def logout(inner: Any, *args: Any, **kwargs: Any) -> Any:
            _request().session = None
            return inner(*args, **kwargs)
        return self.filter_proxy(leaf, logout)


class SessionAuthFilter(AuthFilter):
    """The authorized user is kept in the session (builtin, marshal-able
    data). Logging in gives the session a new id (no session fixation) and
    returns to the page that asked for the login, when it is this site's."""

    referrer_param = "auth_referrer"

    @property
    def session(self) -> Dict[str, Any]:
        """A copy of the session as a dict (save changes by assigning
        request.session)."""
        return _session_dict(create=True) or {}

    @property
    def authorized(self) -> Any:
        session = _session_dict(create=False)  # no session file for anonymous visitors
        return session.get(self.authorized_param) if session is not None else None

    def will_authorize(self, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
        referrer = kwargs.pop(self.referrer_param, None)
        if isinstance(referrer, str) and referrer:
            session = self.session
            session[self.referrer_param] = referrer
            _save_session(session)

    def did_authorize(self, user: Any, rsp: Any, exc: Optional[BaseException]) -> None:
        from smisk.core import uid
        from smisk.mvc.helpers import is_same_origin

        session = self.session
        session[self.authorized_param] = user
        referrer = session.pop(self.referrer_param, None)
        _save_session(session)
        _request().session_id = uid()  # the data moves to a fresh id
        if exc is None and isinstance(referrer, str) and is_same_origin(referrer):
            raise http.Found(referrer)

    def did_fail(self) -> Any:
        if self.have_valid_create_leaf:
            from smisk.mvc.helpers import redirect_to

            params: Dict[str, Any] = {self.referrer_param: str(_request().url)}
            redirect_to(self.create_leaf, **params)
        raise http.Unauthorized()


# --- HTTP Digest (RFC 7616) -------------------------------------------------

_AUTH_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,|$)')
_ALGORITHMS = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
_MAX_TRACKED_NONCES = 10000


def parse_auth_params(text: str) -> Optional[Dict[str, str]]:
    """The auth-params of a Digest header ('a="x", b=y'), quoted-string
    escapes undone; None when the text is not a list of auth-params."""
    out: Dict[str, str] = {}
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _AUTH_PARAM.match(text, pos)
        if m is None or m.end() == pos:
            return None
        name, value = m.group(1).lower(), m.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out[name] = value
        pos = m.end()
    return out


class DigestAuthFilter(LeafFilter):
    """HTTP Digest authentication (RFC 7616, qop=auth). `users` maps a user
    name to its password, or to {'ha1': '<hex of H(user:realm:password)>'}.
    Nonces are signed with a per-process secret and expire after
    `nonce_lifetime` seconds; a nonce count that does not grow is a replay.
    The leaf gets `authorized_user` (the name, or None when authentication
    is optional and none was given)."""

    nonce_lifetime = 300

    def __init__(self, realm: str, users: Optional[Dict[str, Any]] = None, require_authentication: bool = True,
                 algorithm: str = "MD5") -> None:
        if algorithm.upper() not in _ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(_ALGORITHMS)}, not {algorithm!r}")
        if '"' in realm or "\\" in realm:
            raise ValueError("the realm must not contain quotes or backslashes")
        self.realm = realm
        self.users = dict(users or {})
        self.require_authentication = require_authentication
        self.algorithm = algorithm.upper()
        self._hash = _ALGORITHMS[self.algorithm]
        self._secret = os.urandom(32)
        self._counts: "OrderedDict[str, int]" = OrderedDict()
        self._lock = threading.Lock()

    def H(self, text: str) -> str:
        return self._hash(text.encode("utf-8")).hexdigest()

    def make_nonce(self, now: Optional[float] = None) -> str:
        stamp = str(int(time.time() if now is None else now))
        mac = hmac.new(self._secret, stamp.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{stamp}-{mac}"

    def check_nonce(self, nonce: str) -> Tuple[bool, bool]:
        """(authentic, expired)."""
        stamp, _, mac = nonce.partition("-")
        if not stamp.isdigit():
            return False, False
        good = hmac.new(self._secret, stamp.encode(), hashlib.sha256).hexdigest()[:32]
        if not hmac.compare_digest(good, mac):
            return False, False
        return True, time.time() - int(stamp) > self.nonce_lifetime

    def ha1(self, username: str) -> Optional[str]:
        entry = self.users.get(username)
        if isinstance(entry, dict):
            value = entry.get("ha1")
            return value.lower() if isinstance(value, str) else None
        if isinstance(entry, str):
            return self.H(f"{username}:{self.realm}:{entry}")
        return None

    def get_authorized(self, username: str) -> Any:
        """The user the leaf gets for an authenticated `username`."""
        return username

    def respond_unauthorized(self, stale: bool = False) -> Any:
        header = (f'WWW-Authenticate: Digest realm="{self.realm}", nonce="{self.make_nonce()}", '
                  f'algorithm={self.algorithm}, qop="auth"' + (", stale=true" if stale else ""))
        _response().replace_header(header)
        raise http.Unauthorized()

    def respond_authorized(self, leaf: Any, user: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        kwargs["authorized_user"] = user
        return leaf(*args, **kwargs)

    def _count_is_fresh(self, nonce: str, nc: int) -> bool:
        with self._lock:
            last = self._counts.get(nonce, 0)
            if nc <= last:
                return False
            self._counts[nonce] = nc
            self._counts.move_to_end(nonce)
            while len(self._counts) > _MAX_TRACKED_NONCES:
                self._counts.popitem(last=False)
            return True

    def authenticate(self, header: str) -> Any:
        """The user named by a valid Authorization header; raises 400 for a
        malformed one, 401 (with a new challenge) for a wrong one."""
        request = _request()
        scheme, _, rest = header.strip().partition(" ")
        if scheme.lower() != "digest":
            raise http.BadRequest("Authorization must use the Digest scheme")
        params = parse_auth_params(rest)
        required = ("username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce")
        if params is None or any(k not in params for k in required):
            raise http.BadRequest("malformed Digest Authorization header")
        if params.get("algorithm", "MD5").upper() != self.algorithm or params["qop"] != "auth":
            raise http.BadRequest(f"use algorithm={self.algorithm} and qop=auth")
        target = request.env.get("REQUEST_URI") or request.url.to_s(scheme=False, host=False, port=False,
                                                                     user=False, password=False, fragment=False)
        if params["uri"] != target:
            raise http.BadRequest("the Digest uri is not the request's")
        if params["realm"] != self.realm:
            return self.respond_unauthorized()
        authentic, expired = self.check_nonce(params["nonce"])
        if not authentic:
            return self.respond_unauthorized()
        if expired:
            return self.respond_unauthorized(stale=True)
        try:
            nc = int(params["nc"], 16)
        except ValueError:
            raise http.BadRequest("the nonce count is not hexadecimal") from None
        ha1 = self.ha1(params["username"])
        # Compute even for an unknown user: the answer takes the same time.
        ha1 = ha1 if ha1 is not None else self.H(f"\0:{self.realm}:{os.urandom(8).hex()}")
        ha2 = self.H(f"{request.method}:{params['uri']}")
        expected = self.H(f"{ha1}:{params['nonce']}:{params['nc']}:{params['cnonce']}:auth:{ha2}")
        if not hmac.compare_digest(expected, params["response"].lower()) or params["username"] not in self.users:
            return self.respond_unauthorized()
        if not self._count_is_fresh(params["nonce"], nc):
            return self.respond_unauthorized()  # a replayed request
        return self.get_authorized(params["username"])

    def filter(self, leaf: Any, *args: Any, **kwargs: Any) -> Any:
        header = _request().env.get("HTTP_AUTHORIZATION")
        if not header:
            if self.require_authentication:
                return self.respond_unauthorized()
            return self.respond_authorized(leaf, None, args, kwargs)
        user = self.authenticate(header)
        return self.respond_authorized(leaf, user, args, kwargs)


# --- sorting ----------------------------------------------------------------

def _column_names(entity: Any) -> Iterable[str]:
    try:
        from sqlalchemy import inspect as sa_inspect
    except ImportError:
        raise RuntimeError("sortable_entities needs SQLAlchemy, or an `allowed` list of column names") from None
    return [c.key for c in sa_inspect(entity).mapper.column_attrs]


class sortable_entities(LeafFilter):
    """Orders `rsp[parameter]` (or `entity.query`) by the client's
    `<kwprefix>sort` (a mapped column, or one of `allowed`) and
    `<kwprefix>order` (asc/desc); anything else is 400."""

    def __init__(self, entity: Any, parameter: str, sortdefault: str, orderdefault: str = "desc",
                 kwprefix: str = "", allowed: Optional[Iterable[str]] = None) -> None:
        self.entity = entity
        self.parameter = parameter
        self.sortdefault = sortdefault
        self.orderdefault = orderdefault
        self.kwprefix = kwprefix
        self.allowed = None if allowed is None else frozenset(allowed)

    def filter(self, leaf: Any, *args: Any, **kwargs: Any) -> Any:
        sort = kwargs.pop(self.kwprefix + "sort", self.sortdefault)
        order = str(kwargs.pop(self.kwprefix + "order", self.orderdefault)).lower()
        if order not in ("asc", "desc"):
            raise http.BadRequest("order must be asc or desc")
        allowed = self.allowed if self.allowed is not None else frozenset(_column_names(self.entity))
        if not isinstance(sort, str) or sort not in allowed:
            raise http.BadRequest(f"cannot sort by {str(sort)[:100]!r}")
        rsp = leaf(*args, **kwargs)
        if not isinstance(rsp, dict):
            rsp = {}
        query = rsp.get(self.parameter)
        if query is None:
            query = self.entity.query
        column = getattr(self.entity, sort)
        rsp[self.parameter] = query.order_by(column.desc() if order == "desc" else column.asc())
        rsp.update(sort=sort, order=order, inverse_order="asc" if order == "desc" else "desc")
        return rsp


FilterType = Callable[..., Any]
