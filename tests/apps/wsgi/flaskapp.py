"""A small real Flask application for tests/test_wsgi_frameworks.py: routes,
a form with file uploads, cookies, Flask's signed-cookie session, JSON, a
redirect and an error handled by Flask itself."""
import hashlib
import os

from flask import Flask, jsonify, make_response, redirect, request, session, url_for

app = Flask(__name__)
app.secret_key = os.environ.get("FLASK_TEST_SECRET", "test-secret-not-for-production")


@app.route("/")
def index():
    return "hello from flask"


@app.route("/hello")
def hello():
    return "Hello World!\n", 200, {"Content-Type": "text/plain"}


@app.route("/user/<name>/<int:n>")
def user(name, n):
    return jsonify(name=name, n=n, args=request.args.to_dict(flat=False), pid=os.getpid())


@app.route("/form", methods=["GET", "POST"])
def form():
    if request.method == "GET":
        return '<form method="post" enctype="multipart/form-data"><input name="title"></form>'
    files = {}
    for name, storage in request.files.items(multi=True):
        data = storage.read()
        files.setdefault(name, []).append({"filename": storage.filename, "size": len(data),
                                           "sha1": hashlib.sha1(data).hexdigest(),
                                           "content_type": storage.content_type})
    return jsonify(form=request.form.to_dict(flat=False), files=files)


@app.route("/json", methods=["POST"])
def echo_json():
    return jsonify(got=request.get_json(), length=request.content_length)


@app.route("/cookie/set")
def cookie_set():
    resp = make_response("set")
    resp.set_cookie("flavour", request.args.get("v", "oatmeal"), httponly=True)
    return resp


@app.route("/cookie/get")
def cookie_get():
    return jsonify(dict(request.cookies))


@app.route("/session/incr")
def session_incr():
    session["n"] = session.get("n", 0) + 1
    return jsonify(n=session["n"], pid=os.getpid())


@app.route("/session/clear")
def session_clear():
    session.clear()
    return "cleared"


@app.route("/go")
def go():
    return redirect(url_for("index"))


@app.route("/boom")
def boom():
    raise RuntimeError("flask view failed")


@app.route("/stream")
def stream():
    n = int(request.args.get("n", "10"))
    return app.response_class((b"chunk %d\n" % i for i in range(n)), mimetype="text/plain")
