"""Schemathesis against localsora's own OpenAPI schema (issue 10): every operation, no 5xx, invalid input refused.

The app `python -m localsora` serves runs in this process: its `/openapi.json` (FastAPI's) is read, and schemathesis
generates valid and invalid requests for every operation in it and sends them to the app through its ASGI client.
One app serves the whole module, its lifespan run by a TestClient (jobs are queued and rendered, as in a server);
schemathesis, which would end a lifespan it started after each test, is not given it.

What the schema covers: paths, path parameters (ids), query parameters (`after`, `limit`, `order`, `variant`), and
the request body of each POST, which the route takes from its typed model in localsora/protocol.py
(`openapi_body`): the fuzz sends what the server itself says it reads, not a copy of it kept here.

Only the JSON bodies are fuzzed. A form carries every value as text, so "a number where a string belongs"
cannot be sent as a form, and negative cases there would be false alarms; tests/test_hardening.py covers forms
(files where text belongs and the reverse, nesting, chunked uploads).

Checks: `not_a_server_error` (no 5xx on any case) and `negative_data_rejection` (a request that breaks the
schema gets a 4xx). Response-schema checks are left out: FastAPI documents a 422 for validation, and localsora
answers OpenAI's 400 instead, by design.

Bounded by example count per operation (no time assertions); the fault endpoint stays off (no --enable-faults),
so injected 5xx cannot appear. The run is repeatable: hypothesis starts from a fixed seed, printed with each test's
output; set SORA_FUZZ_SEED to try another.
"""

from __future__ import annotations

import copy
import logging
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import BaseSchema, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import negative_data_rejection
from starlette.testclient import TestClient

from localsora.server import create_app
from tests.in_process import settings_for

EXAMPLES = int(os.environ.get("SORA_FUZZ_EXAMPLES", "40"))  # per operation
SEED = int(os.environ.get("SORA_FUZZ_SEED", "1015"))  # hypothesis's seed: the same cases every run
# The fuzz and the health check after it share one app and run in this order, so one worker runs the module.
pytestmark = pytest.mark.xdist_group("schema_fuzz")


def json_bodies_only(spec: dict[str, Any]) -> dict[str, Any]:
    """The served schema with each POST body's form encoding left out (see the module's docstring); every POST
    must document a JSON body."""
    spec = copy.deepcopy(spec)
    for path, operations in spec["paths"].items():
        if "post" in operations:
            content = operations["post"]["requestBody"]["content"]
            assert "application/json" in content, f"POST {path} documents no JSON body"
            content.pop("multipart/form-data", None)
    return spec


class ErrorLog(logging.Handler):
    """What localsora logs at ERROR and above (an unexpected exception in a route, a failed render)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def error_log() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    logging.getLogger("localsora").addHandler(handler)
    yield handler
    logging.getLogger("localsora").removeHandler(handler)


class WithoutLifespan:
    """The app for schemathesis's ASGI client: HTTP passes through; a lifespan scope is refused before any message,
    which ASGI servers read as "no lifespan support", so the module's TestClient keeps the one lifespan."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            raise RuntimeError("the module's TestClient runs this app's lifespan")
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory, error_log: ErrorLog) -> Iterator[WithoutLifespan]:
    """localsora's app as `python -m localsora --poll-after-ms 200` makes it, started for the module."""
    app = create_app(settings_for(tmp_path_factory.mktemp("localsora-fuzz"), ["--poll-after-ms", "200"]))
    with TestClient(app):  # its lifespan: the job queue and the expiry sweeper run until the module ends
        yield WithoutLifespan(app)


@pytest.fixture(scope="module")
def localsora_schema(fuzzed_app: WithoutLifespan) -> BaseSchema:
    spec = TestClient(fuzzed_app.app).get("/openapi.json").raise_for_status().json()
    served = {f"{method.upper()} {path}" for path, operations in spec["paths"].items() for method in operations}
    assert served == set(OPERATIONS), f"the schema's operations changed: {sorted(served ^ set(OPERATIONS))}"
    return schemathesis.openapi.from_dict(json_bodies_only(spec))


# Every operation FastAPI's schema lists; a new route fails the check above until it is added here.
OPERATIONS = (
    "GET /health",
    "GET /v1/models",
    "GET /v1/models/{model_id}",
    "POST /v1/videos",
    "GET /v1/videos",
    "POST /v1/videos/edits",
    "POST /v1/videos/extensions",
    "POST /v1/videos/characters",
    "GET /v1/videos/characters/{character_id}",
    "DELETE /v1/videos/characters/{character_id}",
    "GET /v1/videos/{video_id}",
    "DELETE /v1/videos/{video_id}",
    "GET /v1/videos/{video_id}/content",
    "POST /v1/videos/{video_id}/remix",
    "GET /_localsora/videos/{video_id}/request",
)
CASES: dict[str, int] = {}  # cases sent per "MODE METHOD /path", printed at the end
STATUSES: Counter[int] = Counter()  # every status answered, printed at the end


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_no_5xx_and_invalid_input_refused(localsora_schema: BaseSchema, fuzzed_app: WithoutLifespan, operation: str,
                                          mode: GenerationMode) -> None:
    method, path = operation.split(" ", 1)
    api_operation = localsora_schema[path][method]
    checks = [not_a_server_error] + ([negative_data_rejection] if mode == GenerationMode.NEGATIVE else [])
    key = f"{mode} {operation}"
    CASES[key] = 0
    print(f"schema fuzz seed: {SEED} (SORA_FUZZ_SEED={SEED} repeats this run)")

    @seed(SEED)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=api_operation.as_strategy(generation_mode=mode))
    def fuzz(case: schemathesis.Case) -> None:
        CASES[key] += 1
        response = case.call_and_validate(app=fuzzed_app, checks=checks)
        STATUSES[response.status_code] += 1

    try:
        fuzz()
    except Unsatisfiable:
        # A string path parameter and no query or body: every request fits the schema, nothing can break it.
        assert mode == GenerationMode.NEGATIVE and CASES[key] == 0
        del CASES[key]
        pytest.skip(f"{operation}: the schema leaves nothing to make invalid")
    assert CASES[key] > 0


def test_the_fuzzed_server_is_still_healthy(localsora_schema: BaseSchema, fuzzed_app: WithoutLifespan,
                                            error_log: ErrorLog) -> None:
    """Runs after the fuzz (same module, same worker): the app still answers, and logged no unexpected error."""
    health = localsora_schema["/health"]["GET"].Case().call(app=fuzzed_app)
    assert health.status_code == 200 and health.json()["service"] == "localsora"
    errors = [f"{r.name}: {r.getMessage()}" for r in error_log.records]
    assert errors == [], errors
    print(f"\nschema fuzz (seed {SEED}): {sum(CASES.values())} cases over {len(CASES)} operation-modes: {CASES}")
    print(f"statuses: {dict(sorted(STATUSES.items()))}")
