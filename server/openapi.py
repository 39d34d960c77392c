"""The OpenAPI document, built from the routes and the marshmallow schemas they use."""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from werkzeug.routing import IntegerConverter

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
                {"in": "path", "name": arg, "required": True, "schema": _path_type(rule, arg)}
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
    _link(paths)
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _path_type(rule: Any, arg: str) -> dict[str, str]:
    converter = rule._converters.get(arg)
    return {"type": "integer" if isinstance(converter, IntegerConverter) else "string"}


def _link(paths: dict[str, dict[str, Any]]) -> None:
    """OpenAPI links, so clients (and stateful fuzzing) can follow an object from where it is
    made or listed to the operations on it: ``POST /contacts`` (201, body ``id``) and
    ``GET /contacts`` (``results[0].id``) lead to every ``/contacts/{contact_id}...``."""
    for path, operations in paths.items():
        for method, source in (
            ("post", "$response.body#/id"),
            ("get", "$response.body#/results/0/id"),
        ):
            op = operations.get(method)
            if op is None or "{" in path:
                continue
            status = next((code for code in op["responses"] if code.startswith("2")), None)
            if status is None:
                continue
            links: dict[str, Any] = {}
            for target, target_ops in paths.items():
                found = re.fullmatch(re.escape(path) + r"/\{(\w+)\}(/.*)?", target)
                if found is None:
                    continue
                for target_method in target_ops:
                    name = (
                        f"{target_method}{target}".replace("/", "_")
                        .replace("{", "")
                        .replace("}", "")
                    )
                    links[name] = {
                        "operationRef": f"#/paths/{_pointer(target)}/{target_method}",
                        "parameters": {found.group(1): source},
                    }
            if links:
                op["responses"][status]["links"] = links


def _pointer(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")
