"""The ceiling: gunicorn serving a constant body, once as raw WSGI and once through Flask."""

from flask import Flask

BODY = b"x" * 94  # the size of a zlib PROLOG reply


def wsgi(environ, start_response):
    environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/x-compress-zlib"), ("Content-Length", str(len(BODY)))])
    return [BODY]


flask_app = Flask(__name__)


@flask_app.post("/plugins/fusioninventory/")
def constant():
    return BODY, 200, {"Content-Type": "application/x-compress-zlib"}
