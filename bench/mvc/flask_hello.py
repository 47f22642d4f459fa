"""The same JSON answer from Flask (bench/mvc/run: on smisk-wsgi and on gunicorn)."""
import json

from flask import Flask, Response, request

app = Flask(__name__)


@app.route("/hello.json")
def hello():
    name = request.args.get("name") or "World"
    return Response(json.dumps({"message": f"Hello {name}!"}), mimetype="application/json")
