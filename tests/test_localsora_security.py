"""localsora lets no one in where they don't belong, and keeps its disk bounded (issue 21, the server's items).

Each test is one defect that was found, and fails without its fix. Most run the app in process (`start_app`,
behind a TestClient, whose Host the test sets); a stalled socket needs a real port (`start_threaded`), and what
the command line refuses, or a disk that really fills, needs a child process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.in_process import InProcessLocalsora
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parent.parent
StartApp = Callable[..., InProcessLocalsora]


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, object]:
    """A JSON error in OpenAI's shape with `status` (and `code`, when given)."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"], error
    if code is not None:
        assert error["code"] == code, error
    return error


def job_count(app: InProcessLocalsora) -> int:
    return len(app.http.get("/v1/videos", params={"limit": 100}).raise_for_status().json()["data"])


# ------------------------------------------------------------------------------ item 2: Host, Origin, the key


# DNS rebinding: a page at attacker.example, its name pointed at 127.0.0.1, reached the server with that Host.
def test_a_foreign_host_is_refused_and_the_server_s_own_names_are_answered(start_app: StartApp) -> None:
    app = start_app()
    port = app.settings.port
    error = assert_error(app.http.get("/v1/videos", headers={"host": f"attacker.example:{port}"}), 400,
                         "invalid_host")
    assert "attacker.example" in str(error["message"]) and "--allowed-hosts" in str(error["message"])
    assert_error(app.http.post("/v1/videos", json={"prompt": "x"}, headers={"host": "attacker.example"}), 400)
    assert_error(app.http.get("/health", headers={"host": f"localhost:{port + 1}"}), 400)  # another port
    assert job_count(app) == 0
    for own in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "localhost"):
        assert app.http.get("/v1/videos", headers={"host": own}).status_code == 200, own


def test_allowed_hosts_adds_names_and_a_star_answers_any(start_app: StartApp) -> None:
    named = start_app("--allowed-hosts", "studio.lan,gpu.lan:9000")
    assert named.http.get("/v1/videos", headers={"host": "studio.lan:1234"}).status_code == 200
    assert named.http.get("/v1/videos", headers={"host": "gpu.lan:9000"}).status_code == 200
    assert_error(named.http.get("/v1/videos", headers={"host": "gpu.lan:9001"}), 400)
    assert_error(named.http.get("/v1/videos", headers={"host": "testserver"}), 400)  # the flag replaced it
    anyone = start_app("--allowed-hosts", "*")
    assert anyone.http.get("/v1/videos", headers={"host": "whatever.example"}).status_code == 200


# CSRF: a form on another site posted to the server, with no preflight, and a job was made.
def test_a_cross_site_form_post_makes_no_job(start_app: StartApp) -> None:
    app = start_app()
    form = {"prompt": "A fox in the snow", "seconds": "4"}
    refused = app.http.post("/v1/videos", data=form, headers={"origin": "https://attacker.example"})
    error = assert_error(refused, 403, "origin_not_allowed")
    assert "attacker.example" in str(error["message"])
    assert_error(app.http.post("/v1/videos", data=form, headers={"origin": "null"}), 403)  # a sandboxed frame
    assert job_count(app) == 0
    # The SDK and curl send no Origin; a page the server itself serves (its /docs) sends its own.
    assert app.http.post("/v1/videos", data=form).status_code == 200
    assert app.http.post("/v1/videos", data=form, headers={"origin": app.root_url}).status_code == 200
    assert job_count(app) == 2


def test_allowed_origins_lets_a_named_site_in(start_app: StartApp) -> None:
    app = start_app("--allowed-origins", "https://studio.example")
    made = app.http.post("/v1/videos", json={"prompt": "x"}, headers={"origin": "https://studio.example"})
    assert made.status_code == 200, made.text
    assert_error(app.http.post("/v1/videos", json={"prompt": "x"}, headers={"origin": "https://evil.example"}), 403)


def test_binding_beyond_loopback_without_a_key_does_not_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCALSORA_")} | {"PYTHONPATH": str(REPO)}
    started = subprocess.run([sys.executable, "-m", "localsora", "--host", "0.0.0.0", "--port", "9",
                              "--data-dir", str(tmp_path / "data")],
                             capture_output=True, text=True, timeout=60, env=env, cwd=REPO)
    assert started.returncode == 2, started.stderr
    assert "--api-key" in started.stderr and "0.0.0.0" in started.stderr and "Traceback" not in started.stderr
    assert not (tmp_path / "data").exists(), "refused before anything was made"


# ------------------------------------------------------------------------------ item 10: integers past 4,300 digits

THOUSANDS_OF_DIGITS = "9" * 5000  # int() refuses more than 4,300 digits: this was a 500 and a reset connection


def completed_video_id(app: InProcessLocalsora) -> str:
    form = {"prompt": "A kite over dunes", "seconds": "1" if app.settings.dialect != "openai" else "4"}
    # vLLM-Omni takes forms only and SGLang JSON only; OpenAI takes both.
    made = app.http.post("/v1/videos", **({"json": form} if app.settings.dialect == "sglang" else {"data": form}))
    video_id = made.raise_for_status().json()["id"]
    wait_until(lambda: app.http.get(f"/v1/videos/{video_id}").json()["status"], lambda status: status == "completed",
               what=f"{video_id} to complete", deadline=60)
    return video_id


@pytest.mark.parametrize("dialect", ["openai", "vllm-omni", "sglang"])
def test_a_range_of_thousands_of_digits_is_a_416(start_app: StartApp, dialect: str) -> None:
    app = start_app("--dialect", dialect, "--poll-after-ms", "50")
    content = f"/v1/videos/{completed_video_id(app)}/content"
    for header in (f"bytes={THOUSANDS_OF_DIGITS}-", f"bytes=0-{THOUSANDS_OF_DIGITS}", f"bytes=-{THOUSANDS_OF_DIGITS}"):
        answer = app.http.get(content, headers={"range": header})
        assert answer.status_code == 416, (header[:20], answer.status_code, answer.text[:200])
        assert answer.headers["content-range"].startswith("bytes */")
    assert app.http.get(content, headers={"range": "bytes=0-9"}).status_code == 206


@pytest.mark.parametrize("dialect", ["vllm-omni", "sglang"])
@pytest.mark.parametrize("field", ["seconds", "size"])
def test_seconds_or_a_size_of_thousands_of_digits_is_a_400(start_app: StartApp, dialect: str, field: str) -> None:
    app = start_app("--dialect", dialect)
    value = THOUSANDS_OF_DIGITS if field == "seconds" else f"{THOUSANDS_OF_DIGITS}x{THOUSANDS_OF_DIGITS}"
    body = {"prompt": "A kite", "seconds": "4", field: value}
    answer = app.http.post("/v1/videos", **({"json": body} if dialect == "sglang" else {"data": body}))
    assert answer.status_code == 400, answer.text[:300]
    assert field in answer.text
    assert job_count(app) == 0
