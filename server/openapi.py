"""The OpenAPI document, built from the routes and the marshmallow schemas they use."""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask

from server.crm.schemas import Error

API_PREFIX = "/api/v1"


def build(app: Flask) -> dict[str, Any]:
    spec = APISpec(
        title="Meeting Assistant API",
        version="1",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        servers=[{"url": app.config["SETTINGS"].public_base_url + API_PREFIX}],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=Error)
    error = {"description": "error", "content": {"application/json": {"schema": "Error"}}}
    paths: dict[str, dict[str, Any]] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIX + "/"):
            continue
        meta = getattr(app.view_functions[rule.endpoint], "openapi", None)
        if meta is None:
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len(API_PREFIX) :])
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op: dict[str, Any] = {
                "summary": meta["summary"],
                "security": [{"bearer": []}],
                "responses": {
                    str(meta["status"]): {
                        "description": "ok",
                        **(
                            {"content": {"application/json": {"schema": meta["response"]}}}
                            if meta["response"]
                            else {}
                        ),
                    },
                    "400": error,
                    "401": error,
                    "404": error,
                    "405": {**error, "headers": {"Allow": {"schema": {"type": "string"}}}},
                    "414": error,
                },
            }
            params = [
                {"in": "path", "name": arg, "required": True, "schema": {"type": "integer"}}
                for arg in sorted(rule.arguments)
            ]
            if meta["query"] is not None:
                params.append({"in": "query", "schema": meta["query"]})
            if params:
                op["parameters"] = params
            if meta["body"] is not None and method in {"POST", "PATCH", "PUT"}:
                op["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": meta["body"]}},
                }
                op["responses"]["409"] = error
                op["responses"]["413"] = error
            paths.setdefault(path, {})[method.lower()] = op
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    return spec.to_dict()
