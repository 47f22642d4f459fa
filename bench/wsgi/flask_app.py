"""The Flask hello of bench/wsgi/run."""
from flask import Flask

app = Flask(__name__)


@app.route("/hello")
def hello():
    return "Hello World!\n", 200, {"Content-Type": "text/plain"}
