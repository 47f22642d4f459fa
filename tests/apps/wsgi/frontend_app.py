"""The plain WSGI application of tests/test_frontend.py, behind
smisk-frontend (as a daemon over SCGI or FastCGI, or as its one-shot CGI
fallback). Every answer says which process served it and how, so a test can
tell a daemon's answer from the fallback's and match answers to requests."""
import hashlib
import json
import os
import time
from urllib.parse import parse_qs

# Set by the command that starts the daemon; unset in the fallback CGI.
ROLE = os.environ.get("FRONTEND_APP_ROLE", "cgi")


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    headers = [("Content-Type", "text/plain"), ("X-Role", ROLE)]
    if path in ("/echo", "/sleep"):
        t0 = time.time()
        if path == "/sleep":
            time.sleep(int(query.get("ms", "0")) / 1000)
        body = f"id={query.get('id', '')} role={ROLE} pid={os.getpid()} t0={t0:.6f} t1={time.time():.6f}\n"
    elif path == "/post":
        data = environ["wsgi.input"].read()
        body = f"{len(data)} {hashlib.sha1(data).hexdigest()}\n"
    elif path == "/env":
        keys = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH",
                "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR", "GATEWAY_INTERFACE", "HTTPS",
                "REQUEST_URI", "PATH", "SECRET", "SMISK_SENDFILE")
        seen = {k: environ[k] for k in keys if k in environ}
        seen.update({k: v for k, v in environ.items() if k.startswith("HTTP_")})
        seen["daemon_env"] = {k: os.environ[k] for k in ("GATEWAY_INTERFACE", "QUERY_STRING", "HTTP_X_LONG",
                                                          "FRONTEND_APP_ROLE", "EXTRA") if k in os.environ}
        body = json.dumps(seen, sort_keys=True) + "\n"
        headers[0] = ("Content-Type", "application/json")
    elif path == "/early":
        # Answers without reading the body.
        start_response("403 Forbidden", headers)
        return [b"forbidden\n"]
    elif path == "/stderr":
        environ["wsgi.errors"].write("frontend_app: a line for the error log\n")
        body = "logged\n"
    elif path == "/big":
        n = int(query.get("bytes", "0"))
        start_response("200 OK", headers + [("Content-Length", str(n))])
        return [bytes(range(256)) * (n // 256) + bytes(n % 256)]
    else:
        start_response("404 Not Found", headers)
        return [b"not found\n"]
    start_response("200 OK", headers)
    return [body.encode()]
