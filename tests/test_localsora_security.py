"""localsora lets no one in where they don't belong, and keeps its disk bounded (issue 21, the server's items).

Each test is one defect that was found, and fails without its fix. Most run the app in process (`start_app`,
behind a TestClient, whose Host the test sets); a stalled socket needs a real port (`start_threaded`), and what
the command line refuses, or a disk that really fills, needs a child process.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from PIL import Image

from localsora.process import free_port, is_healthy
from tests.in_process import InProcessLocalsora, ThreadedLocalsora
from tests.media import png_bytes
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
    return wait_completed(app, made.raise_for_status().json()["id"])


def wait_completed(app: InProcessLocalsora, video_id: str) -> str:
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


# ------------------------------------------------------------------------------ item 9: the disk is bounded


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real 4 s MP4 from localsora's own renderer, made once: the upload the character and edit tests send."""
    from tests.in_process import settings_for

    app = InProcessLocalsora(settings_for(tmp_path_factory.mktemp("clip"), ["--poll-after-ms", "50"])).start()
    try:
        video_id = completed_video_id(app)
        return app.http.get(f"/v1/videos/{video_id}/content").raise_for_status().content
    finally:
        app.stop()


def test_an_expired_video_s_uploaded_source_and_reference_are_swept(start_app: StartApp, clip: bytes) -> None:
    app = start_app("--poll-after-ms", "50")
    edit = app.http.post("/v1/videos/edits", data={"prompt": "at night"},
                         files={"video": ("clip.mp4", clip, "video/mp4")}).raise_for_status().json()
    made = app.http.post("/v1/videos", data={"prompt": "A red door", "size": "720x1280", "seconds": "4"},
                         files={"input_reference": ("door.png", png_bytes(720, 1280), "image/png")})
    uploads = {edit["id"]: "source.mp4", made.raise_for_status().json()["id"]: "reference.png"}
    for video_id, name in uploads.items():
        wait_completed(app, video_id)
        assert (app.data_dir / "videos" / video_id / name).exists()
    app.app.state.store.expire_due(now=time.time() + app.settings.ttl_seconds + 1)  # the sweeper's call, a day on
    for video_id, name in uploads.items():
        assert not (app.data_dir / "videos" / video_id / name).exists(), f"{name} outlived its video"
        assert_error(app.http.get(f"/v1/videos/{video_id}/content"), 404, "video_expired")


def make_character(app: InProcessLocalsora, video: bytes, name: str = "Mara",
                   filename: str = "mara.mp4") -> httpx.Response:
    return app.http.post("/v1/videos/characters", data={"name": name}, files={"video": (filename, video, "video/mp4")})


def test_characters_can_be_deleted_and_are_capped(start_app: StartApp, clip: bytes) -> None:
    app = start_app("--max-characters", "2")
    first, _ = (make_character(app, clip).raise_for_status().json() for _ in range(2))
    error = assert_error(make_character(app, clip), 400, "too_many_characters")
    assert "at most 2" in str(error["message"])
    deleted = app.http.delete(f"/v1/videos/characters/{first['id']}")
    assert deleted.status_code == 200 and deleted.json() == {"id": first["id"], "object": "character.deleted",
                                                             "deleted": True}
    assert not (app.data_dir / "characters" / first["id"]).exists(), "its clip went with it"
    assert_error(app.http.get(f"/v1/videos/characters/{first['id']}"), 404)
    assert_error(app.http.delete(f"/v1/videos/characters/{first['id']}"), 404)
    assert make_character(app, clip).status_code == 200, "deleting made room"


# ------------------------------------------------------------------------------ item 12: the smaller ones


def test_a_gif_or_a_truncated_mp4_is_not_a_character(start_app: StartApp, clip: bytes) -> None:
    app = start_app()
    frames = [Image.new("RGB", (64, 64), (40 * i, 90, 160)) for i in range(6)]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    error = assert_error(make_character(app, gif.getvalue(), filename="mara.gif"), 400, "invalid_video")
    assert "MP4" in str(error["message"]) and "GIF" in str(error["message"])
    error = assert_error(make_character(app, clip[: len(clip) * 9 // 10]), 400, "invalid_video")
    assert "cut short" in str(error["message"])
    assert not any((app.data_dir / "characters").iterdir()), "nothing was kept"


def test_head_is_answered_on_get_routes(start_app: StartApp) -> None:
    app = start_app("--poll-after-ms", "50")
    video_id = completed_video_id(app)
    for path in ("/health", "/v1/models", "/v1/videos", f"/v1/videos/{video_id}", f"/v1/videos/{video_id}/content"):
        got, head = app.http.get(path), app.http.head(path)
        assert head.status_code == 200 and head.content == b"", (path, head.status_code)
        assert head.headers["content-length"] == got.headers["content-length"], path
    assert app.http.head("/v1/videos/video_00000000000000000000000000000000").status_code == 404


def test_the_allow_header_lists_only_the_methods_served(start_app: StartApp) -> None:
    app = start_app()
    for path, allowed in (("/v1/videos/edits", "POST"), ("/v1/videos/characters", "POST"),
                          ("/v1/videos", "GET, HEAD, POST")):
        answer = app.http.put(path)
        assert answer.status_code == 405 and answer.headers["allow"] == allowed, (path, answer.headers.get("allow"))


def raw_request(port: int, head: str, body: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_a_stalled_upload_is_cut_with_a_408(start_threaded: Callable[..., ThreadedLocalsora]) -> None:
    server = start_threaded("--request-body-timeout", "0.5")
    stalled = raw_request(server.port, f"POST /v1/videos HTTP/1.1\nHost: 127.0.0.1:{server.port}\n"
                                       "Content-Type: application/json\nContent-Length: 1000\n", b'{"prompt": ')
    with stalled:
        answer = read_until_closed(stalled).decode("latin-1")  # nothing more is sent: the server must give up
    assert answer.startswith("HTTP/1.1 408"), answer[:200]
    assert "stalled" in answer and '"code":"request_timeout"' in answer.replace(" ", "")
    assert httpx.get(f"{server.base_url}/videos").status_code == 200


def test_uploads_in_flight_are_capped_with_a_429(start_threaded: Callable[..., ThreadedLocalsora]) -> None:
    server = start_threaded("--max-upload-bytes-in-flight", "2000000")
    head = (f"POST /v1/videos/edits HTTP/1.1\nHost: 127.0.0.1:{server.port}\n"
            "Content-Type: multipart/form-data; boundary=x\nContent-Length: 1500000\n")
    with raw_request(server.port, head, b"--x\r\n"):  # 1.5 MB on its way, 5 bytes of it sent
        refused = httpx.post(f"{server.base_url}/videos/edits", data={"prompt": "x"},
                             files={"video": ("a.mp4", b"\0" * 1_000_000, "video/mp4")}, timeout=30)
        error = assert_error(refused, 429, "rate_limit_exceeded")
        assert "--max-upload-bytes-in-flight" in str(error["message"]) and int(refused.headers["retry-after"]) >= 1
    wait_until(lambda: httpx.post(f"{server.base_url}/videos/edits", data={"prompt": "x"},
                                  files={"video": ("a.mp4", b"\0" * 1_000_000, "video/mp4")}, timeout=30).status_code,
               lambda status: status == 400, what="the budget to free once the first upload's connection closed")


# ------------------------------------------------------------------------------ item 11: a full disk, explained


def can_mount_a_tmpfs() -> bool:
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not can_mount_a_tmpfs(), reason="needs `unshare -rm` (user namespaces) to mount a small tmpfs")
def test_a_full_disk_is_a_507_or_a_failed_job_that_says_so(tmp_path: Path, clip: bytes) -> None:
    """A real ENOSPC: the server runs in a mount namespace of its own with its data dir on a 16 MB tmpfs, which
    the test fills through /proc/PID/root (the server's view of the files)."""
    mount, port = tmp_path / "disk", free_port()
    mount.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCALSORA_")} | {"PYTHONPATH": str(REPO)}
    command = ["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=16m tmpfs "$0" && exec "$@"', str(mount),
               sys.executable, "-m", "localsora", "--port", str(port), "--data-dir", str(mount / "data"),
               "--poll-after-ms", "50"]
    with open(tmp_path / "localsora.log", "wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    root_url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: is_healthy(root_url) or process.poll() is not None, what="localsora on a tmpfs")
        data_dir = Path(f"/proc/{process.pid}/root") / str(mount / "data").lstrip("/")
        filler = data_dir / "filler"
        free = os.statvfs(data_dir)
        filler.write_bytes(b"\0" * (free.f_bavail * free.f_frsize - 200_000))  # 200 kB left: less than a video
        http = httpx.Client(base_url=f"{root_url}/v1", timeout=30)

        for refused in (http.post("/videos/characters", data={"name": "Mara"},
                                  files={"video": ("mara.mp4", clip, "video/mp4")}),
                        http.post("/videos/edits", data={"prompt": "at night"},
                                  files={"video": ("clip.mp4", clip, "video/mp4")})):
            error = assert_error(refused, 507, "disk_full")
            assert "disk is full" in str(error["message"]) and str(mount / "data") in str(error["message"])
        assert not [*(data_dir / "characters").iterdir(), *(data_dir / "videos").iterdir()], "nothing half-written"

        video_id = http.post("/videos", json={"prompt": "A red door", "seconds": "4"}).raise_for_status().json()["id"]
        wait_until(lambda: http.get(f"/videos/{video_id}").json()["status"], lambda s: s in ("completed", "failed"),
                   what=f"{video_id} to finish", deadline=60)
        failed = http.get(f"/videos/{video_id}").json()
        assert failed["status"] == "failed" and failed["error"]["code"] == "disk_full", failed
        assert "disk is full" in failed["error"]["message"] and str(mount / "data") in failed["error"]["message"]

        filler.unlink()  # space again: the same requests go through
        video_id = http.post("/videos", json={"prompt": "A red door", "seconds": "4"}).raise_for_status().json()["id"]
        wait_until(lambda: http.get(f"/videos/{video_id}").json()["status"], lambda s: s in ("completed", "failed"),
                   what=f"{video_id} to finish", deadline=60)
        assert http.get(f"/videos/{video_id}").json()["status"] == "completed"
        assert http.post("/videos/characters", data={"name": "Mara"},
                         files={"video": ("mara.mp4", clip, "video/mp4")}).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "Traceback" not in (tmp_path / "localsora.log").read_text(), "a full disk is no bug"


def test_an_upload_limit_is_said_in_the_megabytes_it_was_set_in(start_app) -> None:
    """20 MiB is "20 MB", as the studio says it, not "21 MB" (1,000,000-byte megabytes)."""
    server = start_app("--max-image-bytes", str(20 * 1024 * 1024))
    answer = server.http.post("/v1/videos", data={"prompt": "x"},
                                files={"input_reference": ("big.png", b"\0" * (20 * 1024 * 1024 + 1), "image/png")})
    assert answer.status_code == 400
    assert "the limit is 20 MB" in answer.json()["error"]["message"]
