"""The Flask application of tests/test_scgi.py, served as CGI, FastCGI and
SCGI: what it answers must not depend on which. Routes under /w/ (the
prefix the front ends mount it at)."""
import hashlib

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.route("/w/hello")
def hello():
    return "hello from flask\n", 200, {"Content-Type": "text/plain; charset=utf-8", "X-Test": "1"}


@app.route("/w/info", methods=["GET", "POST"])
def info():
    body = request.get_data()
    return jsonify(method=request.method, path=request.path, args=request.args.to_dict(flat=False),
                   form=request.form.to_dict(flat=False), length=len(body),
                   # Web servers differ: an empty CONTENT_TYPE or none (both PEP 3333).
                   content_type=request.content_type or None, cookie=request.cookies.get("c"),
                   scheme=request.scheme)


@app.route("/w/read-exact", methods=["POST"])
def read_exact():
    digest = hashlib.sha1()
    n = 0
    stream = request.stream
    for _ in range(1 << 20):
        data = stream.read(1 << 20)
        if not data:
            break
        digest.update(data)
        n += len(data)
    return f"{n} {digest.hexdigest()}\n", 200, {"Content-Type": "text/plain"}


@app.route("/w/forbidden", methods=["GET", "POST"])
def forbidden():
    return "forbidden\n", 403, {"Content-Type": "text/plain"}
