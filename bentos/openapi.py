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
- BentoML's own error schemas and the routes it does not serve here are left out;
- a title, summary and description of the service (the WebSocket's messages among them:
  OpenAPI has no WebSocket operation), its tags in place of BentoML's, a summary per route.

What depends on the model served is added per request (`served_document`): the version
(the package's and the model's), a working example of every operation (bentos/examples.py),
in place of the bodies Swagger UI would build from the schemas, which the service refuses, and
the model's answer to it (bentos/app.py, `example_answers`), in place of the `"string"` and 0
Swagger UI would show.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from bentos.auth import API_TOKEN_ENV, Access, AuthPolicy, route_access
from bentos.examples import Examples

OPENAPI_VERSION = "3.1.0"
SCHEME = "bearerAuth"

_BODY = {
    400: "Malformed JSON, or a field missing or invalid (the message names it)",
    413: "The body is longer than predict.max_body_bytes",
    415: "The body is not JSON (send Content-Type: application/json)",
}
_MODEL = {
    422: "Unknown league, team or bookmaker, or a kick-off before the teams' state",
    503: "No model loaded yet (no champion in the registry)",
}

#: Every error status of each route, apart from the token's (added by `route_access`).
ROUTE_ERRORS: dict[tuple[str, str], dict[int, str]] = {
    ("get", "/healthz"): {},
    ("get", "/livez"): {},
    ("get", "/readyz"): {503: _MODEL[503]},
    ("get", "/teams"): {503: _MODEL[503]},
    ("get", "/fixtures"): {
        400: "A query parameter invalid (the message names it)",
        503: _MODEL[503],
    },
    ("get", "/ledger"): {400: "A query parameter invalid (the message names it)"},
    ("get", "/matches/{match_id}"): {
        404: "Unknown match (neither a fixture of the store nor posted to /odds)",
        503: _MODEL[503],
    },
    ("get", "/models"): {400: "A query parameter invalid (the message names it)"},
    ("get", "/value-bets"): {
        400: "A query parameter invalid (the message names it), or `from` after `to`",
        503: _MODEL[503],
    },
    ("post", "/predict"): {**_BODY, **_MODEL},
    ("post", "/edge"): {**_BODY, **_MODEL},
    ("post", "/predict_batch"): {
        **_BODY,
        413: "More than predict.max_batch_size matches, or a body longer than "
        "predict.max_body_bytes",
        **_MODEL,
    },
    ("post", "/odds"): {**_BODY, **_MODEL},
    ("post", "/reload"): {
        400: "Malformed JSON, or a field invalid",
        503: "No champion in the registry, or it could not be loaded (the "
        "version loaded before keeps serving)",
    },
}
#: A summary per route, as Swagger UI lists them (FastAPI's were the function names).
SUMMARIES: dict[tuple[str, str], str] = {
    ("get", "/healthz"): "Alive: the process answers",
    ("get", "/livez"): "Alive (BentoML's probe)",
    ("get", "/readyz"): "Ready: which model is loaded",
    ("get", "/teams"): "The leagues and teams the model knows",
    ("get", "/fixtures"): "Upcoming fixtures with forecasts and edges",
    ("get", "/value-bets"): "This weekend's value bets",
    ("get", "/ledger"): "The live track record",
    ("get", "/matches/{match_id}"): "One match, as its subscribers receive it first",
    ("get", "/models"): "The registered versions beside the market",
    ("post", "/predict"): "Forecast one match",
    ("post", "/predict_batch"): "Forecast several matches",
    ("post", "/edge"): "The value of bookmakers' prices",
    ("post", "/odds"): "Push new prices for a match",
    ("post", "/reload"): "Load the champion the registry names now",
}
#: The tags of BentoML's own routes (theirs: "Service APIs", "Infrastructure").
BENTOML_TAGS = {
    "/predict": "forecasts",
    "/predict_batch": "forecasts",
    "/edge": "forecasts",
    "/livez": "probes",
}
WEBSOCKET = """\
**Live edges: `WS /ws/edge/{match_id}`** (OpenAPI describes no WebSocket operation). The
service sends JSON text messages and reads none:

- on connect, the match's current `EdgeUpdate` (the schema `POST /odds` answers; `GET
  /matches/{match_id}` gives the same message);
- then an `EdgeUpdate` after every `POST /odds` of the match and after a model reload;
- `{"type": "heartbeat", "at": "<ISO 8601 time>"}` when nothing else was sent for
  `push.heartbeat_s` seconds (default 15).

Known matches: the store's upcoming fixtures and those posted to `POST /odds`. The socket is
accepted, then closed with code **4404** for an unknown `match_id`, **4401** / **4403** without
the token or with a wrong one (only when reads are protected), **1013** while no model is
loaded, and **4408** when a client takes no message for `push.send_timeout_s` seconds
(default 5); a client that reads too slowly loses its oldest queued messages.
"""
DESCRIPTION = f"""\
The model under the registry's `champion` alias, over HTTP and a WebSocket. The version above
is the service's, then the model's it serves.

**Errors.** Every refusal is a 4xx (or a 503 while no model is loaded) with
`{{"error": "..."}}` saying what is wrong, never a traceback; each operation lists the statuses
it gives.

**Token.** Writes (`POST /odds`, `POST /reload`) need `Authorization: Bearer <token>`, the
service's `${API_TOKEN_ENV}` (*Authorize*); the reads too when the service is set so
(`auth.protect_reads`).

**Examples.** Each operation's example is a request the service answers with a 2xx: the
loaded model's own league and teams (`GET /teams`), kicking off tomorrow (or on the day after
its teams' state, when that is later). Send `POST /odds`'s first: `GET /matches/{{match_id}}`'s
is the match it posts, unless the store has an upcoming fixture.

{WEBSOCKET}
See bentos/README.md for every field.
"""
TAGS = [
    {
        "name": "forecasts",
        "description": "The model's 1X2 probabilities, and the value of bookmakers' prices.",
    },
    {
        "name": "matches",
        "description": "Teams, matches and pushed prices; a match's live edges "
        "on `WS /ws/edge/{match_id}` (its messages: above).",
    },
    {"name": "bets", "description": "Value bets of the upcoming fixtures and their ledger."},
    {"name": "model", "description": "Which versions exist; reload."},
    {"name": "probes", "description": "Liveness and readiness."},
]
#: The page at "/": Swagger UI from the files BentoML serves (no network needed) on this
#: document. BentoML's page was titled "BentoML Prediction Service", loaded Google Tag Manager
#: and carried a "Powered by BentoML" corner.
SWAGGER_UI = """\
<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>SabiScore API</title>
    <link rel="stylesheet" type="text/css" href="./static_content/swagger-ui.css">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="./static_content/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script>
      window.ui = SwaggerUIBundle({url: "./docs.json", dom_id: "#swagger-ui", deepLinking: true,
                                   presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"});
    </script>
  </body>
</html>
"""
#: Routes BentoML documents that this service does not answer (metrics are off).
NOT_SERVED = frozenset({("get", "/metrics")})
#: BentoML's error schemas, replaced by `Error`.
BENTOML_ERRORS = ("InvalidArgument", "NotFound", "InternalServerError")


Models = Mapping[str, tuple[type[BaseModel], type[BaseModel]]]
#: (method, path) -> the answer to that operation's example.
Answers = Mapping[tuple[str, str], BaseModel]


def published_document(
    generated: dict[str, Any], policy: AuthPolicy, bentoml_routes: Models
) -> dict[str, Any]:
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
        "description": DESCRIPTION,
    }
    doc["tags"] = copy.deepcopy(TAGS)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in BENTOML_ERRORS:
        schemas.pop(name, None)
    schemas.setdefault(
        "Error",
        {
            "type": "object",
            "title": "Error",
            "required": ["error"],
            "properties": {"error": {"type": "string", "title": "Error"}},
        },
    )
    _own_schemas(doc, bentoml_routes)
    components["securitySchemes"] = {
        SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": f"The service's ${API_TOKEN_ENV}.",
        }
    }
    paths = doc.get("paths", {})
    for path in list(paths):
        for method in list(paths[path]):
            if (method, path) in NOT_SERVED:
                del paths[path][method]
                continue
            operation = paths[path][method]
            _document_errors(operation, method, path, policy)
            operation["summary"] = SUMMARIES.get((method, path), operation.get("summary", ""))
            if path in BENTOML_TAGS:
                operation["tags"] = [BENTOML_TAGS[path]]
        if not paths[path]:
            del paths[path]
    return doc


def served_document(
    published: dict[str, Any], model: Any | None, examples: Examples, answers: Answers | None = None
) -> dict[str, Any]:
    """`published` for the model served now (a `LoadedModel`, None while none is): the
    version says which, every operation carries a working example for it (`served_examples`)
    and, once it is loaded, that example's answer as its 200's example (`answers`)."""
    doc = copy.deepcopy(published)
    if model is not None:
        doc["info"]["version"] = (
            f"{doc['info']['version']}, model {model.info.name} "
            f"v{model.info.version} ({model.info.semver})"
        )
    add_examples(doc, examples)
    for (method, path), answer in (answers or {}).items():
        operation = doc.get("paths", {}).get(path, {}).get(method)
        content = (operation or {}).get("responses", {}).get("200", {}).get("content", {})
        if "application/json" in content:
            content["application/json"]["example"] = answer.model_dump(mode="json", by_alias=True)
    return doc


def add_examples(doc: dict[str, Any], examples: Examples) -> None:
    """Each operation's example body (its JSON media type's `example`) and parameters (each
    parameter's `example`), as Swagger UI fills them in for "Try it out"."""
    for (method, path), example in examples.items():
        operation = doc.get("paths", {}).get(path, {}).get(method)
        if operation is None:
            continue
        if "body" in example:
            operation["requestBody"]["content"]["application/json"]["example"] = example["body"]
        for parameter in operation.get("parameters", ()):
            if parameter["name"] in example.get("parameters", {}):
                parameter["example"] = example["parameters"][parameter["name"]]


def _package_version() -> str:
    """The installed package's version (BentoML's document said "None")."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sabiscore")
    except PackageNotFoundError:
        return "0+unknown"


def _document_errors(operation: dict[str, Any], method: str, path: str, policy: AuthPolicy) -> None:
    errors = dict(ROUTE_ERRORS.get((method, path), {}))
    access = route_access(method, path)
    if access is not Access.OPEN and policy.needs_token(access) and policy.token is not None:
        operation["security"] = [{SCHEME: []}]
        errors[401] = "No bearer token sent"
        errors[403] = "The bearer token sent is not the service's"
    else:
        operation.pop("security", None)
    responses = {
        code: answer
        for code, answer in operation.get("responses", {}).items()
        if str(code).startswith("2")
    }
    for status, text in sorted(errors.items()):
        responses[str(status)] = {
            "description": text,
            "content": {
                "application/json": {  # an example of the body, not its exact words
                    "schema": {"$ref": "#/components/schemas/Error"},
                    "example": {"error": text},
                }
            },
        }
    operation["responses"] = responses


def _own_schemas(doc: dict[str, Any], routes: Models) -> None:
    """Point each BentoML route at its models' schemas (bodies as validated, answers as
    serialised), in place of BentoML's `*IODescriptor` copies."""
    pairs = [
        (model, mode)
        for body, answer in routes.values()
        for model, mode in ((body, "validation"), (answer, "serialization"))
    ]
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
