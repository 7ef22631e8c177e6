"""The OpenAPI document the service publishes at /docs.json (and BentoML's Swagger UI at /docs
shows): BentoML's, made true to what the service does.

BentoML 1.4 labels its document 3.0.2, yet the schemas pydantic writes into it are JSON Schema
2020-12 (`type: "null"`, `examples`, `propertyNames`, numeric `exclusiveMinimum`): OpenAPI 3.1.
It documents its own 400 with a `detail` string it sends as an array, a 500 it should never
send, a /metrics route that is off, and none of 401, 403, 413, 415, 422 or 503. Here:

- the version says 3.1.0, which is what the schemas are (checked by openapi-spec-validator in
  the tests);
- each route's error answers are the ones it gives, all `{"error": "..."}` (`Error`), with the
  statuses of `ROUTE_ERRORS` and the token's 401 / 403 where `route_access` asks for it;
- a bearer `securityScheme`, required by the writes, and by the reads when
  `auth.protect_reads` is on;
- the `@bentoml.api` routes' bodies and answers are the pydantic models' own schemas (BentoML
  rewrites them: an answer's `kickoff: null` was documented as a string);
- BentoML's own error schemas and the routes it does not serve here are left out.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from bentos.auth import API_TOKEN_ENV, Access, AuthPolicy, route_access

OPENAPI_VERSION = "3.1.0"
SCHEME = "bearerAuth"

_BODY = {400: "Malformed JSON, or a field missing or invalid (the message names it)",
         413: "The body is longer than predict.max_body_bytes",
         415: "The body is not JSON (send Content-Type: application/json)"}
_MODEL = {422: "Unknown league, team or bookmaker, or a kick-off before the teams' state",
          503: "No model loaded yet (no champion in the registry)"}

#: Every error status of each route, apart from the token's (added by `route_access`).
ROUTE_ERRORS: dict[tuple[str, str], dict[int, str]] = {
    ("get", "/healthz"): {},
    ("get", "/livez"): {},
    ("get", "/readyz"): {503: _MODEL[503]},
    ("get", "/teams"): {503: _MODEL[503]},
    ("get", "/fixtures"): {400: "A query parameter invalid (the message names it)",
                           503: _MODEL[503]},
    ("get", "/ledger"): {400: "A query parameter invalid (the message names it)"},
    ("get", "/matches/{match_id}"): {404: "Unknown match (neither a fixture of the store nor "
                                          "posted to /odds)", 503: _MODEL[503]},
    ("get", "/models"): {400: "A query parameter invalid (the message names it)"},
    ("get", "/value-bets"): {400: "A query parameter invalid (the message names it), or "
                                  "`from` after `to`", 503: _MODEL[503]},
    ("post", "/predict"): {**_BODY, **_MODEL},
    ("post", "/edge"): {**_BODY, **_MODEL},
    ("post", "/predict_batch"): {
        **_BODY, 413: "More than predict.max_batch_size matches, or a body longer than "
                      "predict.max_body_bytes", **_MODEL},
    ("post", "/odds"): {**_BODY, **_MODEL},
    ("post", "/reload"): {400: "Malformed JSON, or a field invalid",
                          503: "No champion in the registry, or it could not be loaded (the "
                               "version loaded before keeps serving)"},
}
#: Routes BentoML documents that this service does not answer (metrics are off).
NOT_SERVED = frozenset({("get", "/metrics")})
#: BentoML's error schemas, replaced by `Error`.
BENTOML_ERRORS = ("InvalidArgument", "NotFound", "InternalServerError")


Models = Mapping[str, tuple[type[BaseModel], type[BaseModel]]]


def published_document(generated: dict[str, Any], policy: AuthPolicy,
                       bentoml_routes: Models) -> dict[str, Any]:
    """The document to publish, from BentoML's (`SabiScore.openapi_spec.asdict()`);
    `bentoml_routes`: route -> (body model, answer model) of each `@bentoml.api` route."""
    doc = copy.deepcopy(generated)
    for operations in doc.get("paths", {}).values():  # BentoML keys some statuses as ints: with
        for operation in operations.values():  # a "200" beside a 200, the JSON had one twice
            operation["responses"] = {str(k): v for k, v in operation.get("responses", {}).items()}
    doc["openapi"] = OPENAPI_VERSION
    doc["info"] = {
        "title": "SabiScore",
        "version": _package_version(),
        "summary": "Football 1X2 forecasts and value bets from the champion model.",
        "description": (
            "Every refusal is a 4xx with `{\"error\": \"...\"}`. Writes need "
            f"`Authorization: Bearer <token>` (the service's `${API_TOKEN_ENV}`); reads too when "
            "the service is set so (`auth.protect_reads`). `WS /ws/edge/{match_id}` pushes a "
            "match's EdgeUpdate (see bentos/README.md)."
        ),
    }
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in BENTOML_ERRORS:
        schemas.pop(name, None)
    schemas.setdefault("Error", {
        "type": "object", "title": "Error", "required": ["error"],
        "properties": {"error": {"type": "string", "title": "Error"}}})
    _own_schemas(doc, bentoml_routes)
    components["securitySchemes"] = {SCHEME: {
        "type": "http", "scheme": "bearer",
        "description": f"The service's ${API_TOKEN_ENV}."}}
    paths = doc.get("paths", {})
    for path in list(paths):
        for method in list(paths[path]):
            if (method, path) in NOT_SERVED:
                del paths[path][method]
                continue
            _document_errors(paths[path][method], method, path, policy)
        if not paths[path]:
            del paths[path]
    return doc


def _package_version() -> str:
    """The installed package's version (BentoML's document said "None")."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sabiscore")
    except PackageNotFoundError:
        return "0+unknown"


def _document_errors(operation: dict[str, Any], method: str, path: str,
                     policy: AuthPolicy) -> None:
    errors = dict(ROUTE_ERRORS.get((method, path), {}))
    access = route_access(method, path)
    if access is not Access.OPEN and policy.needs_token(access) and policy.token is not None:
        operation["security"] = [{SCHEME: []}]
        errors[401] = "No bearer token sent"
        errors[403] = "The bearer token sent is not the service's"
    else:
        operation.pop("security", None)
    responses = {code: answer for code, answer in operation.get("responses", {}).items()
                 if str(code).startswith("2")}
    for status, text in sorted(errors.items()):
        responses[str(status)] = {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    operation["responses"] = responses


def _own_schemas(doc: dict[str, Any], routes: Models) -> None:
    """Point each BentoML route at its models' schemas (bodies as validated, answers as
    serialised), in place of BentoML's `*IODescriptor` copies."""
    pairs = [(model, mode) for body, answer in routes.values()
             for model, mode in ((body, "validation"), (answer, "serialization"))]
    refs, definitions = models_json_schema(pairs, ref_template="#/components/schemas/{model}")
    schemas = doc["components"]["schemas"]
    schemas.update(definitions.get("$defs", {}))
    for name in [n for n in schemas if n.endswith("IODescriptor")]:
        del schemas[name]
    for route, (body, answer) in routes.items():
        operation = doc["paths"][route]["post"]
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(body, "validation")]}},
        }
        ok = operation["responses"].setdefault("200", {"description": "Successful Response"})
        ok["content"] = {"application/json": {"schema": refs[(answer, "serialization")]}}
