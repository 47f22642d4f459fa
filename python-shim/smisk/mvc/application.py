"""The MVC Application: one request is routing, argument binding,
negotiation, the leaf, then encoding its answer (template or serializer).

Every negotiation failure (300, 404 for an unknown format, 406, 415, 413)
is decided before a leaf runs, so a refused request has no side effects.
Errors answer in the negotiated format (or the fallback, HTML), with the
exception text only when show_traceback is on."""
import hashlib
import io
import logging
import mimetypes
import os
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

import smisk.core
from smisk.config import LOGGING_DATEFMT, LOGGING_FORMAT, config
from smisk.mvc import control, http, negotiation
from smisk.mvc.messages import Request, Response
from smisk.mvc.routing import Destination, Router
from smisk.mvc.template import Templates, encoding_errors, render
from smisk.serialization import SerializationError, UnserializationError, serializers
from smisk.util.python import format_exc

__all__ = ["Application", "environment"]

log = logging.getLogger("smisk.mvc")

BODY_METHODS = ("POST", "PUT", "PATCH")
FORM_TYPES = ("", "application/x-www-form-urlencoded")
DEFAULT_BODY_CAP = 10 * 1024 * 1024

# MSIE shows its own "friendly" page for short error bodies: pad them.
_MSIE_MIN_LENGTH = {400: 512, 404: 512, 406: 512, 408: 512, 409: 512, 500: 512, 501: 512, 505: 512,
                    403: 256, 405: 256, 410: 256}


def environment() -> str:
    """$SMISK_ENVIRONMENT, default 'stable'."""
    return os.environ.get("SMISK_ENVIRONMENT", "stable")


class ReflectionDestination(Destination):
    """Answers OPTIONS for a leaf with its reflection, without calling it."""

    def __call__(self, *args: Any, **params: Any) -> Any:
        return control.leaf_reflection(self.leaf)

    @property
    def template_path(self) -> Optional[List[str]]:
        return None


def _status_of(val: Any) -> http.Status:
    status = getattr(val, "status", None)
    if isinstance(status, http.Status):
        return status
    if isinstance(val, smisk.core.RequestTooLargeError):
        return http.RequestEntityTooLarge
    if isinstance(val, UnserializationError):
        return http.BadRequest
    code = getattr(val, "http_status", None)  # e.g. a refused JSONP callback
    if isinstance(code, int) and code in http.STATUS:
        return http.STATUS[code]
    return http.InternalServerError


class Application(smisk.core.Application):
    """A Smisk MVC application: the controller tree (smisk.mvc.control)
    answers through routes, serializers and templates."""

    templates: Any = None
    routes: Any = None
    serializer: Any = None  # legacy, unused
    destination: Any = None
    template: Any = None
    unicode_errors = "replace"
    autoclear_model_session = True
    leaf_filters: List[Any] = []
    default_show_traceback: Optional[bool] = None
    """Set by the configuration (smisk.mvc.show_traceback) for instances."""

    def __init__(self, router: Any = None, templates: Any = None, *args: Any,
                 show_traceback: Optional[bool] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_class = Request
        self.response_class = Response
        self.leaf_filters = []
        self.routes = router if router is not None else Router()
        if templates is None and Templates.is_useable:
            templates = Templates()
        self.templates = templates
        if show_traceback is None:
            show_traceback = type(self).default_show_traceback
        if show_traceback is not None:
            self.show_traceback = bool(show_traceback)
        self._etag: Any = None
        self._compiled_leaf: Any = None
        self._pending_rebind_model_metadata: Any = None

    # --- set-up ---------------------------------------------------------

    def setup(self) -> None:
        """Reads the configuration; may run several times."""
        etag = config.setting("smisk.mvc.etag")
        if isinstance(etag, str):
            try:
                self._etag = getattr(hashlib, etag) if hasattr(hashlib, etag) else hashlib.new(etag).__class__
                if not callable(self._etag):
                    raise AttributeError(etag)
            except (AttributeError, ValueError):
                log.error("smisk.mvc.etag: no hash function named %r; ETags are off", etag)
                self._etag = None
        else:
            self._etag = etag
        if self.templates is not None:
            if not self.templates.directories:
                appdir = os.environ.get("SMISK_APP_DIR") or _main_dir()
                candidate = os.path.join(appdir, "templates") if appdir else None
                if candidate and os.path.isdir(candidate):
                    self.templates.directories = [os.path.abspath(candidate)]
                else:
                    log.info("no templates directory (%s): templates are disabled", candidate)
                    self.templates = None
            else:
                self.templates.directories = [os.path.abspath(d) for d in self.templates.directories]
        if self.templates is not None:
            self.templates.reset_cache()
        fallback = Response.fallback_serializer
        if isinstance(fallback, str):
            fallback = serializers.find(fallback)
        if fallback is not None and fallback not in serializers:
            fallback = None
        if fallback is None:
            fallback = serializers.extensions.get("html") or serializers.first_in
        Response.fallback_serializer = fallback
        model = sys.modules.get("smisk.mvc.model")
        if model is not None and getattr(getattr(model, "metadata", None), "bind", None) is not None:
            model.setup_all(True)

    def application_will_start(self) -> None:
        logging.basicConfig(format=LOGGING_FORMAT, datefmt=LOGGING_DATEFMT)
        control.controllers()  # every controller's __init__ runs now, once
        self.setup()
        if isinstance(self.routes, Router):
            self.routes.configure()
        mimetypes.init()
        model = sys.modules.get("smisk.mvc.model")
        if model is not None and getattr(getattr(model, "metadata", None), "bind", None) is not None:
            import atexit

            atexit.register(model.cleanup_all)
        self.compile_leaf_filters()
        if log.isEnabledFor(logging.DEBUG):
            log.debug("serializers: %s", ", ".join(s.name for s in serializers))
            log.debug("media types: %s", ", ".join(sorted(serializers.media_types)))
            log.debug("extensions: %s", ", ".join(sorted(serializers.extensions)))
        log.info("accepting connections")

    def application_did_stop(self) -> None:
        smisk.core.unbind()

    def compile_leaf_filters(self) -> None:
        """Wraps the request's destination in the app-global leaf filters:
        leaf_filters[0] innermost, each applied once. The chain looks up
        self.destination at call time, so it is built once per process."""
        if not self.leaf_filters:
            self._compiled_leaf = None
            return
        app = self

        def destination(*args: Any, **kwargs: Any) -> Any:
            return app.destination(*args, **kwargs)

        chain: Any = destination
        for f in self.leaf_filters:
            chain = f(chain)
        self._compiled_leaf = chain

    # --- one request ----------------------------------------------------

    def _exchange(self) -> Tuple[Any, Any]:
        """(request, response): the MVC Request and Response while serving."""
        return self.request, self.response

    def service(self) -> None:
        reloader = sys.modules.get("smisk.autoreload")
        if reloader is not None:
            reloader.before_request()  # a changed configuration, in this thread
        try:
            self._service()
        finally:
            model = _bound_model()
            if model is not None and getattr(model, "session", None) is not None:
                model.session.remove()  # the request's session ends with the request

    def _service(self) -> None:
        started = time.perf_counter()
        request, response = self._exchange()
        if log.isEnabledFor(logging.INFO):
            log.info("serving %s for client %s", request.url, request.env.get("REMOTE_ADDR", "?"))
        if log.isEnabledFor(logging.DEBUG):
            env = request.env
            lines = [f"{env.get('REQUEST_METHOD')} {env.get('REQUEST_URI')} {env.get('SERVER_PROTOCOL')}"]
            lines += [f"{k[5:].replace('_', '-').title()}: {v}" for k, v in env.items() if k.startswith("HTTP_")]
            log.debug("request:\n  %s", "\n  ".join(lines))
        request.serializer = None
        request.cn_url = request.url
        response.format = None
        response.serializer = None
        response.charset = self.charset
        response.charsets = []
        self.destination = None
        self.template = None

        method = request.method or "GET"
        # OPTIONS asks what a resource offers: no 300 list for it.
        response.serializer = self.response_serializer(no_http_exc=method == "OPTIONS")
        if response.serializer is not None and response.serializer.charset:
            response.charset = response.serializer.charset
        args, params = self.parse_request()
        if method == "OPTIONS" and (request.env.get("SCRIPT_NAME") == "*" or request.cn_url.path == "/*"):
            rsp = self.service_server_OPTIONS(args, params)
        else:
            self.destination, args, params = self.routes(method, request.cn_url, args, params)
            self.apply_leaf_restrictions()
            rsp = self._call_leaf(args, params)
            if self.template is None and self.templates is not None:
                template_path = self.destination.template_path
                if template_path:
                    self.template = self.template_for_path("/".join(template_path))
        body = self.encode_response(rsp)
        self.send_response(body)
        if log.isEnabledFor(logging.INFO):
            uri = self.destination.uri if self.destination is not None else request.cn_url.path
            log.info("processed %s%s in %.3fms", uri, f".{response.format}" if response.format else "",
                     (time.perf_counter() - started) * 1000.0)

    def service_server_OPTIONS(self, args: List[Any], params: Dict[str, Any]) -> Any:
        """OPTIONS * (the server itself)."""
        self._exchange()[1].replace_header("Allow: " + ", ".join(control.ALL_METHODS))
        if not control.enable_reflection:
            return None
        root = control.Controller()
        return {"methods": root.smisk_methods(), "charsets": root.smisk_charsets(),
                "serializers": root.smisk_serializers()}

    # --- negotiation ----------------------------------------------------

    def response_serializer(self, no_http_exc: bool = False) -> Any:
        """The serializer that answers this request (see negotiation.py)."""
        request, response = self._exchange()
        fallback = Response.fallback_serializer
        if response.format:
            s = serializers.extensions.get(response.format)
            if s is None:
                if no_http_exc:
                    return fallback
                raise http.NotFound(f"Resource not available as '{response.format}'")
            return s
        i = response.find_header("Content-Type:")
        if i >= 0:
            media_type, _ = negotiation.parse_content_type(response.headers[i].split(":", 1)[1])
            s = serializers.media_types.get(media_type)
            if s is None:
                if no_http_exc:
                    return fallback
                raise http.InternalServerError(f"No serializer for the response's Content-Type {media_type}")
            return s
        ext, path = negotiation.split_format_extension(request.url.path or "/", serializers)
        if ext is not None:
            response.format = ext
            cn_url = smisk.core.URL(request.url)
            cn_url.path = path or "/"
            request.cn_url = cn_url
            return serializers.extensions[ext]
        accept = request.env.get("HTTP_ACCEPT")
        if not (accept or "").strip() and request.method in BODY_METHODS:
            # No Accept at all (XML-RPC and many API clients send none): a
            # body in a format that can also answer is answered in kind.
            media_type, _ = negotiation.parse_content_type(request.env.get("CONTENT_TYPE"))
            s = serializers.media_types.get(media_type) if media_type else None
            if s is not None and s.can_serialize and s.can_unserialize:
                return s
        choice = negotiation.choose_serializer(
            accept, serializers, Response.serializer, fallback,
            strict_tcn=config.setting("smisk.mvc.strict_tcn"), no_http_exc=no_http_exc, url=request.cn_url)
        if choice.content_type and "*" not in choice.content_type and response.find_header("Content-Type:") < 0:
            response.headers.append(f"Content-Type: {choice.content_type}")
        return choice.serializer

    def parse_request(self) -> Tuple[List[Any], Dict[str, Any]]:
        """(args, params) from the query, the form or the body; settles the
        response charset first."""
        request, response = self._exchange()
        env = request.env
        strict = config.setting("smisk.mvc.strict_tcn")
        response.charset, response.charsets = negotiation.choose_charset(
            env.get("HTTP_ACCEPT_CHARSET"), response.charset, strict)
        args: List[Any] = []
        params: Dict[str, Any] = {}
        try:
            post = request.post
            request.cookies
            params.update(request.get)
        except UnicodeDecodeError:
            raise http.BadRequest("Unable to decode text data. Please encode text using the "
                                  f"{self.charset} character set.") from None
        except smisk.core.RequestTooLargeError as e:
            raise http.RequestEntityTooLarge(str(e)) from None
        except ValueError as e:  # the core refuses a malformed body (e.g. CONTENT_LENGTH)
            raise http.BadRequest(str(e)) from None
        method = request.method or "GET"
        if method not in BODY_METHODS:
            return args, params
        media_type, ct_params = negotiation.parse_content_type(env.get("CONTENT_TYPE"))
        path_serializer = serializers.extensions.get(response.format) if response.format else None
        if not media_type and path_serializer is not None and _has_body(env):
            media_type = path_serializer.media_types[0] if path_serializer.media_types else ""
        if media_type in FORM_TYPES or media_type.startswith("multipart/"):
            params.update(post)  # multipart: text fields; uploads stay in request.files
            return args, params
        s = serializers.media_types.get(media_type) or path_serializer
        if s is None or not s.can_unserialize:
            raise http.UnsupportedMediaType()
        raw = self._read_body(env)
        try:
            body_args, body_params = s.unserialize(io.BytesIO(raw), len(raw), ct_params.get("charset"))
        except (UnserializationError, ValueError, UnicodeDecodeError, LookupError) as e:
            raise http.BadRequest(f"Unable to read the {s.name} body: {e}") from None
        request.serializer = s
        if body_args:
            args.extend(body_args)
        if body_params:
            if not isinstance(body_params, dict):
                raise http.BadRequest(f"the {s.name} body must be an object")
            params.update({str(k): v for k, v in body_params.items()})
        return args, params

    def _read_body(self, env: Dict[str, str]) -> bytes:
        """The request body, at most smisk.mvc.max_request_body bytes (413
        beyond); Content-Length absent or empty means 'read to the end'."""
        cap = config.setting("smisk.mvc.max_request_body")
        if cap is None:
            cap = self._exchange()[0].max_formdata_size
        if cap is None or cap <= 0:
            cap = DEFAULT_BODY_CAP
        text = (env.get("CONTENT_LENGTH") or "").strip()
        if text:
            if not text.isdigit():
                raise http.BadRequest(f"Invalid Content-Length: {text[:40]!r}")
            length = int(text)
            if length > cap:
                raise http.RequestEntityTooLarge(f"The body is larger than {cap} bytes")
            return self._exchange()[0].input.read(length) if length else b""
        raw = self._exchange()[0].input.read(cap + 1)
        if len(raw) > cap:
            raise http.RequestEntityTooLarge(f"The body is larger than {cap} bytes")
        return raw

    def apply_leaf_restrictions(self) -> None:
        """The leaf's `methods` (405, Allow, OPTIONS reflection) and
        `formats` (404 for an explicit extension it lacks, else 406 or its
        first format)."""
        request, response = self._exchange()
        leaf = getattr(self.destination, "leaf", None)
        if leaf is None:
            return  # a miss: calling the destination answers 404
        method = request.method or "GET"
        methods = getattr(leaf, "methods", None)
        reflection = control.enable_reflection
        if methods:
            allowed = [m.upper() for m in methods]
            if "GET" in allowed and "HEAD" not in allowed:
                allowed.append("HEAD")
            if method not in allowed or method == "OPTIONS":
                allow = allowed + (["OPTIONS"] if reflection and "OPTIONS" not in allowed else [])
                response.replace_header("Allow: " + ", ".join(allow))
                if method not in allowed:
                    if method == "OPTIONS" and reflection:
                        self.destination = ReflectionDestination(leaf)
                    else:
                        uri = self.destination.uri or request.cn_url.path
                        raise http.MethodNotAllowed(f"The requested method {method} is not allowed for "
                                                    f"the URI {uri}.")
        elif method == "OPTIONS" and reflection:
            response.replace_header("Allow: " + ", ".join(control.ALL_METHODS))
            self.destination = ReflectionDestination(leaf)
        formats = getattr(leaf, "formats", None)
        if formats is not None and not isinstance(self.destination, ReflectionDestination):
            s = response.serializer
            if s is None or not any(ext in formats for ext in s.extensions):
                if response.format:
                    raise http.NotFound(f"Resource not available as '{response.format}'")
                if config.setting("smisk.mvc.strict_tcn") or not formats:
                    raise http.NotAcceptable(f"This resource is available as {', '.join(formats) or 'nothing'}")
                replacement = serializers.extensions.get(formats[0])
                if replacement is None:
                    raise http.NotAcceptable(f"No serializer for '{formats[0]}'")
                response.serializer = replacement
                response.remove_header("Content-Type:")
                if replacement.charset and response.accepts_charset(replacement.charset):
                    response.charset = replacement.charset

    def _call_leaf(self, args: List[Any], params: Dict[str, Any]) -> Any:
        request, response = self._exchange()
        if response.format is None:
            uri = self.destination.uri if self.destination is not None else None
            s = response.serializer
            if uri is not None and s is not None and s.extensions:
                url = request.cn_url
                location = f"{smisk.core.URL.escape(url.path or '/')}.{s.extensions[0]}"
                if url.query:
                    location += f"?{url.query}"
                response.headers.append(f"Content-Location: {location}")
            response.headers.append("Vary: Accept-Charset, Accept")
        else:
            response.headers.append("Vary: Accept-Charset")
        model = _bound_model()
        if model is not None:
            self._model_begin(model)
        try:
            if self._compiled_leaf is not None:
                rsp = self._compiled_leaf(*args, **params)
            else:
                rsp = self.destination(*args, **params)
        except http.HTTPExc as e:
            if model is not None:
                (model.commit_if_needed if 300 <= e.status.code < 400 else self._model_rollback)()
            raise
        except BaseException:
            if model is not None:
                self._model_rollback()
            raise
        if model is not None:
            model.commit_if_needed()
        return rsp

    # ORM hooks: active only when smisk.mvc.model is imported and bound.

    def _model_begin(self, model: Any) -> None:
        pending = self._pending_rebind_model_metadata
        if pending is not None:
            self._pending_rebind_model_metadata = None
            pending()
        if self.autoclear_model_session and getattr(model, "session", None) is not None:
            model.session.expunge_all()

    def _model_rollback(self) -> None:
        model = _bound_model()
        if model is not None:
            model.rollback_if_needed()
            if getattr(model, "session", None) is not None:
                model.session.close()

    # --- the answer -----------------------------------------------------

    def template_uri_for_path(self, path: str) -> str:
        return f"{path}.{self._exchange()[1].serializer.extensions[0]}"

    def template_for_path(self, path: str) -> Any:
        return self.template_for_uri(self.template_uri_for_path(path))

    def template_for_uri(self, uri: str) -> Any:
        return self.templates.template_for_uri(uri, exc_if_not_found=False)

    def _render(self, params: Optional[Dict[str, Any]]) -> bytes:
        text = render(self.template, params)
        return text.encode(self._exchange()[1].charset, encoding_errors(self.template.uri or ""))

    def encode_response(self, rsp: Any) -> Optional[bytes]:
        """The body for what the leaf returned: None (a template, an empty
        serializer answer, or nothing), bytes, str, or a dict (a template
        or the serializer)."""
        response: Any = self.response
        if rsp is None:
            if self.template is not None:
                return self._render(None)
            s = response.serializer
            if s is not None and s.handles_empty_response:
                return self._serialize(s, None)
            return None
        if isinstance(rsp, bytes):
            return rsp
        if isinstance(rsp, str):
            return rsp.encode(response.charset, self.unicode_errors)
        if isinstance(rsp, dict):
            if self.template is not None:
                return self._render(rsp)
            return self._serialize(response.serializer, rsp)
        raise TypeError(f"a leaf returns a dict, str, bytes or None, not {type(rsp).__name__}")

    def _serialize(self, s: Any, rsp: Any) -> bytes:
        response: Any = self.response
        charset, body = s.serialize(rsp, response.charset)
        if charset is not None and charset != response.charset:
            if not response.accepts_charset(charset):
                log.warning("%s answered in %s, which the client did not accept (%s)", s.name, charset,
                            self._exchange()[0].env.get("HTTP_ACCEPT_CHARSET"))
            response.charset = charset
        return body  # type: ignore[no-any-return]

    def send_response(self, body: Optional[bytes]) -> None:
        request, response = self._exchange()
        if body is None:
            if not response.has_begun:
                response.adjust_status(False)
            return
        if not response.has_begun:
            if response.find_header("Content-Length:") < 0:
                response.headers.append(f"Content-Length: {len(body)}")
            if response.serializer is not None:
                response.serializer.add_content_type_header(response, response.charset)
            response.adjust_status(len(body) > 0)
            if self._etag is not None and response.find_header("ETag:") < 0:
                h = self._etag()
                for line in response.headers:
                    h.update(line.encode("utf-8"))
                h.update(body)
                etag = f'"{h.hexdigest()}"'
                response.headers.append(f"ETag: {etag}")
                if _etag_matches(request.env.get("HTTP_IF_NONE_MATCH"), etag):
                    response.status = http.NotModified
                    response.remove_headers("Content-Length:", "Content-Type:")
                    response.begin()
                    return
            response.begin()
        if request.method != "HEAD":
            response.write(body)

    # --- errors ---------------------------------------------------------

    def error(self, typ: Any, val: Any, tb: Any) -> None:
        try:
            self._error(typ, val, tb)
        except Exception:
            log.error("error() failed", exc_info=True)
            log.error("while handling", exc_info=(typ, val, tb))
            super().error(typ, val, tb)

    def _error(self, typ: Any, val: Any, tb: Any) -> None:
        request, response = self._exchange()
        status = _status_of(val)
        path = getattr(request, "cn_url", None) or request.url
        if status.is_error:
            log.error("%s Request failed for %s", status.code, path.path, exc_info=(typ, val, tb))
            if not response.has_begun:
                response.headers = ["Vary: Accept, Accept-Charset"]
        else:
            log.info("%s for %s: %s", status, path.path, val)
        if response.has_begun:
            return  # too late for an error page: the log has it
        response.replace_header(f"Status: {status}")
        env = request.env
        params: Dict[str, Any] = {
            "name": str(status), "code": status.code,
            "server": f"{env.get('SERVER_SOFTWARE', '')} at {env.get('SERVER_NAME', '')}",
        }
        if self.show_traceback and status.is_error:
            params["traceback"] = format_exc((typ, val, tb), as_string=True)
        body: Optional[bytes] = None
        if isinstance(val, http.HTTPExc):
            rsp = val(self)
            if isinstance(rsp, bytes):
                body = rsp
            elif isinstance(rsp, str):
                body = rsp.encode(response.charset, self.unicode_errors)
            elif isinstance(rsp, dict):
                params.update(rsp)
        if "description" not in params:
            if isinstance(val, http.HTTPExc):
                params["description"] = status.name
            elif status.is_client_error:
                # smisk's own refusals (a body it cannot read, a bad JSONP
                # callback, a size limit): their text says what to fix.
                params["description"] = f"{status.name}: {val}"
            elif self.show_traceback:
                params["description"] = f"{status.name}: {type(val).__name__}: {val}"
            else:
                params["description"] = status.name  # no internal detail in a 500
        params["description"] = str(params["description"])
        self.error_service(status, body, (typ, val, tb), params)

    def error_service(self, status: http.Status, rsp: Optional[bytes], exc_info: Any, params: Dict[str, Any]) -> None:
        request, response = self._exchange()
        s = response.serializer or Response.fallback_serializer
        body = rsp
        if body is None and status.has_body:
            body = self._error_body(s, status, params)
            if body is None:  # the negotiated writer failed too: HTML
                s = Response.fallback_serializer
                response.remove_header("Content-Type:")
                body = self._error_body(s, status, params) or f"{status}\n".encode("ascii")
            if "MSIE" in request.env.get("HTTP_USER_AGENT", ""):
                minimum = _MSIE_MIN_LENGTH.get(status.code, 0)
                if len(body) < minimum:
                    body += b" " * (minimum - len(body))
        if body is None:
            body = b""
        if not response.has_begun:
            if s is not None and body and (rsp is None or response.find_header("Content-Type:") < 0):
                s.add_content_type_header(response, response.charset)
            response.replace_header(f"Content-Length: {len(body)}")
            response.begin()
        if body and request.method != "HEAD":
            response.write(body)

    def _error_body(self, s: Any, status: http.Status, params: Dict[str, Any]) -> Optional[bytes]:
        response: Any = self.response
        try:
            if status.uses_template and self.templates is not None and s is not None and s.extensions:
                text = self.templates.render_error(status, params, s.extensions[0])
                if text is not None:
                    return text.encode(response.charset, encoding_errors("." + s.extensions[0]))
            if s is None:
                return None
            charset, body = s.serialize_error(status, params, response.charset)
            if charset:
                response.charset = charset
            return body  # type: ignore[no-any-return]
        except Exception as e:
            # A writer refusing the request's own input (a bad JSONP callback)
            # is expected: one line; anything else gets its traceback.
            log.warning("cannot write the %s error page as %s: %s", status, getattr(s, "name", s), e,
                        exc_info=not isinstance(e, SerializationError))
            return None


def _etag_matches(header: Optional[str], etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    tags = [t.strip() for t in header.split(",")]
    return etag in tags or f"W/{etag}" in tags


def _has_body(env: Dict[str, str]) -> bool:
    return (env.get("CONTENT_LENGTH") or "0").strip() not in ("", "0")


def _bound_model() -> Any:
    model = sys.modules.get("smisk.mvc.model")
    if model is None or getattr(getattr(model, "metadata", None), "bind", None) is None:
        return None
    return model


def _main_dir() -> Optional[str]:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return os.path.dirname(os.path.abspath(path)) if path else None

