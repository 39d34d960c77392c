"""The reference of ``bench.sidebar_load``: a bare Flask JSON endpoint, served by the same
gunicorn command line (the Procfile's) as the product."""

from __future__ import annotations

from flask import Flask, Response, jsonify, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/bare")
    def bare() -> Response:
        body = request.get_json(silent=True) or {}
        return jsonify({"ok": True, "keys": len(body)})

    return app
