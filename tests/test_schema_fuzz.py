"""Schemathesis against localsora's own OpenAPI schema (issue 10): every operation, no 5xx, invalid input refused.

A real `python -m localsora` child process serves `/openapi.json` (FastAPI's); schemathesis generates valid and
invalid requests for every operation in it and sends them over real HTTP. What the schema covers: paths, path
parameters (ids), query parameters (`after`, `limit`, `order`, `variant`), and the request body of each POST,
which the route takes from its typed model in localsora/protocol.py (`openapi_body`): the fuzz sends what the
server itself says it reads, not a copy of it kept here.

Only the JSON bodies are fuzzed. A form carries every value as text, so "a number where a string belongs"
cannot be sent as a form, and negative cases there would be false alarms; tests/test_hardening.py covers forms
(files where text belongs and the reverse, nesting, chunked uploads).

Checks: `not_a_server_error` (no 5xx on any case) and `negative_data_rejection` (a request that breaks the
schema gets a 4xx). Response-schema checks are left out: FastAPI documents a 422 for validation, and localsora
answers OpenAI's 400 instead, by design.

Bounded by example count per operation (no time assertions); the fault endpoint stays off (no --enable-faults),
so injected 5xx cannot appear.
"""

from __future__ import annotations

import copy
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import BaseSchema, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import negative_data_rejection

from localsora.process import LocalsoraProcess

EXAMPLES = int(os.environ.get("SORA_FUZZ_EXAMPLES", "40"))  # per operation


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


@pytest.fixture(scope="module")
def fuzzed_localsora(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalsoraProcess]:
    with LocalsoraProcess(tmp_path_factory.mktemp("localsora-fuzz"), args=["--poll-after-ms", "200"]) as server:
        yield server


@pytest.fixture(scope="module")
def localsora_schema(fuzzed_localsora: LocalsoraProcess) -> BaseSchema:
    spec = httpx.get(f"{fuzzed_localsora.root_url}/openapi.json", timeout=10).raise_for_status().json()
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
def test_no_5xx_and_invalid_input_refused(localsora_schema: BaseSchema, fuzzed_localsora: LocalsoraProcess,
                                          operation: str, mode: GenerationMode) -> None:
    method, path = operation.split(" ", 1)
    api_operation = localsora_schema[path][method]
    checks = [not_a_server_error] + ([negative_data_rejection] if mode == GenerationMode.NEGATIVE else [])
    key = f"{mode} {operation}"
    CASES[key] = 0

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(case=api_operation.as_strategy(generation_mode=mode))
    def fuzz(case: schemathesis.Case) -> None:
        CASES[key] += 1
        response = case.call_and_validate(base_url=fuzzed_localsora.root_url, checks=checks, timeout=30)
        STATUSES[response.status_code] += 1

    try:
        fuzz()
    except Unsatisfiable:
        # A string path parameter and no query or body: every request fits the schema, nothing can break it.
        assert mode == GenerationMode.NEGATIVE and CASES[key] == 0
        del CASES[key]
        pytest.skip(f"{operation}: the schema leaves nothing to make invalid")
    assert CASES[key] > 0


def test_the_fuzzed_server_is_still_healthy(fuzzed_localsora: LocalsoraProcess) -> None:
    """Runs after the fuzz (same module): the process is alive and its log has no unexpected error."""
    assert fuzzed_localsora.running()
    assert httpx.get(f"{fuzzed_localsora.root_url}/health", timeout=10).status_code == 200
    log = Path(fuzzed_localsora.log_path).read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]
    print(f"\nschema fuzz: {sum(CASES.values())} cases over {len(CASES)} operation-modes: {CASES}")
    print(f"statuses: {dict(sorted(STATUSES.items()))}")
