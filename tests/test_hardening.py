"""localsora refuses hostile input with a 4xx in the contract's error shape, its limits hold, and the studio core
loses and doubles no job under faults (issue 10).

Raw HTTP to the shared `localsora` process; a server with flags of its own runs in process (`start_app`, behind a
TestClient), or on a loopback port from a thread (`start_threaded`) where the test needs a real socket."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import httpx2  # the openai SDK's own HTTP client: a cut stream surfaces as its transport error
import openai
import pytest
from openai import OpenAI
from openai.types import Video

from localsora.process import LocalsoraProcess
from studio import errors
from studio.jobs import Jobs, VideoRequest
from studio.library import Library
from tests.conftest import local_jobs, sdk_client, wait_for_video
from tests.media import decode_mp4, png_bytes
from tests.waiting import read_line, wait_until

REPO = Path(__file__).resolve().parent.parent

JSON = {"content-type": "application/json"}
BODY_POSTS = ("/videos", "/videos/{id}/remix", "/videos/edits", "/videos/extensions", "/videos/characters")


def assert_error(response: httpx.Response, status: int, param: str | None = None) -> dict[str, object]:
    """A JSON error in OpenAI's shape, with `status` and, when given, the field it names."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    if param is not None:
        assert error["param"] == param, error
    return error


def routes(video_id: str) -> list[str]:
    return [route.format(id=video_id) for route in BODY_POSTS]


# Defect 1: JSON nested 100,000 deep was a RecursionError and a plain-text 500.
def test_deeply_nested_json_is_a_400_on_every_post_route(localsora: LocalsoraProcess, completed_video: Video) -> None:
    for route in routes(completed_video.id):
        answer = httpx.post(localsora.base_url + route, content=b"[" * 100_000, headers=JSON, timeout=30)
        assert_error(answer, 400)


# Defect 2: a lone surrogate failed when written to SQLite.
def test_a_lone_surrogate_is_a_400_naming_the_field(localsora: LocalsoraProcess, completed_video: Video) -> None:
    for route in ("/videos", f"/videos/{completed_video.id}/remix"):
        answer = httpx.post(localsora.base_url + route, content=b'{"prompt": "\\ud800"}', headers=JSON)
        assert_error(answer, 400, "prompt")
    answer = httpx.post(localsora.base_url + "/videos", content=b'{"prompt": "a", "\\udfff": 1}', headers=JSON)
    assert_error(answer, 400)


# Defect 3: multipart `video` as a plain field hit an AttributeError in _save_upload.
@pytest.mark.parametrize("route", ["/videos/edits", "/videos/extensions"])
@pytest.mark.parametrize("value", ['{"id": 5}', "true", '["a"]', "[" * 100_000])
def test_video_as_a_plain_multipart_field_is_a_400(localsora: LocalsoraProcess, route: str, value: str) -> None:
    answer = httpx.post(localsora.base_url + route, files={"prompt": (None, "x"), "seconds": (None, "4"),
                                                          "video": (None, value)})
    assert_error(answer, 400, "video")


# Defect 5: every field is type-checked; nothing is flattened with str().
@pytest.mark.parametrize("prompt", [["a", "b"], 123, True, {"text": "a"}])
def test_a_prompt_that_is_not_a_string_is_a_400(localsora: LocalsoraProcess, prompt: object) -> None:
    answer = httpx.post(localsora.base_url + "/videos", json={"prompt": prompt})
    error = assert_error(answer, 400, "prompt")
    assert error["code"] == "invalid_type"


@pytest.mark.parametrize(("field", "value"), [("model", ["sora-2"]), ("size", 1280), ("seconds", True),
                                              ("seconds", 4.5), ("seed", "x"), ("seed", {"a": 1}),
                                              ("negative_prompt", 5)])
def test_other_fields_of_the_wrong_type_are_400s(localsora: LocalsoraProcess, field: str, value: object) -> None:
    answer = httpx.post(localsora.base_url + "/videos", json={"prompt": "A kite", field: value})
    assert_error(answer, 400, field)


def test_video_true_is_a_400_not_a_lookup(localsora: LocalsoraProcess, completed_video: Video) -> None:
    for route in ("/videos/edits", "/videos/extensions"):
        answer = httpx.post(localsora.base_url + route, json={"prompt": "x", "seconds": "4", "video": True})
        assert_error(answer, 400, "video")
    # The typed forms still work: {"video": {"id": ...}} and a JSON number for a numeric field.
    edited = httpx.post(localsora.base_url + "/videos/edits",
                        json={"prompt": "Now in blue", "video": {"id": completed_video.id}})
    assert edited.status_code == 200, edited.text
    seeded = httpx.post(localsora.base_url + "/videos", json={"prompt": "A kite", "seed": 7})
    assert seeded.status_code == 200, seeded.text
    wire = httpx.get(f"{localsora.root_url}/_localsora/videos/{seeded.json()['id']}/request").json()
    assert wire["prompt"] == "A kite" and wire["params"]["seed"] == 7


# Defect 6: input_reference as an object was silently ignored.
def test_input_reference_by_url_or_file_id_is_refused_in_every_encoding(localsora: LocalsoraProcess) -> None:
    url = localsora.base_url + "/videos"
    answers = [
        httpx.post(url, json={"prompt": "x", "input_reference": {"image_url": "https://example.com/a.png"}}),
        httpx.post(url, json={"prompt": "x", "input_reference": {"file_id": "file_123"}}),
        httpx.post(url, files={"prompt": (None, "x"), "input_reference[image_url]": (None, "https://e.com/a.png")}),
        httpx.post(url, data={"prompt": "x", "input_reference[file_id]": "file_123"}),
    ]
    for answer in answers:
        error = assert_error(answer, 400, "input_reference")
        assert error["code"] == "unsupported_value" and "offline" in str(error["message"])


def test_the_sdk_sees_type_errors_as_bad_requests(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(prompt="A kite", extra_body={"seed": "not a number"})
    assert caught.value.body["param"] == "seed"  # type: ignore[index]


# Defect 7: a chunked upload (no Content-Length) was spooled whole to disk before the size check.
def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def test_a_chunked_upload_stops_at_the_limit(start_threaded) -> None:
    """A real socket: a chunked upload (no Content-Length) that stops midway can only be sent over one, and only
    uvicorn's own HTTP parsing streams it to the app as it arrives."""
    server = start_threaded("--max-image-bytes", "1000000")
    before = folder_bytes(server.data_dir)
    head = (b'--B\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nA kite\r\n--B\r\n'
            b'Content-Disposition: form-data; name="input_reference"; filename="a.png"\r\n'
            b"Content-Type: image/png\r\n\r\n")
    chunk = b"x" * (1 << 20)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"POST /v1/videos HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Type: multipart/form-data; boundary=B\r\n\r\n")
        # 3 MB of a 30 MB upload, then no more: only a server that stops at the limit can answer now.
        for piece in (head, chunk, chunk, chunk):
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        answer = read_response(sock, deadline=30)
    status_line, _, body = answer.partition(b"\r\n\r\n")
    assert status_line.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b'"code":"file_too_large"' in body
    assert folder_bytes(server.data_dir) - before < 1_000_000, "the upload reached the data dir"


def read_response(sock: socket.socket, deadline: float) -> bytes:
    """Bytes the server sends until its JSON body is complete (or it closes); fails past the deadline."""
    end = time.monotonic() + deadline
    received = b""
    while time.monotonic() < end:
        readable, _, _ = select.select([sock], [], [], 0.5)
        if readable:
            data = sock.recv(65536)
            received += data
            if not data or received.endswith(b"}}"):
                return received
    raise AssertionError(f"no complete answer within {deadline:g} s: {received[:200]!r}")


def test_a_chunked_json_body_stops_at_the_limit(start_threaded) -> None:
    """A real socket: the TestClient reads a streamed body whole before the app sees it; uvicorn passes it on
    chunk by chunk, as the size limit must meet it."""
    server = start_threaded("--max-image-bytes", "1000")

    def body() -> object:
        yield b'{"prompt": "'
        for _ in range(8):
            yield b"a" * (1 << 20)
        yield b'"}'

    answer = httpx.post(server.base_url + "/videos", content=body(), headers=JSON, timeout=30)
    assert assert_error(answer, 400)["code"] == "file_too_large"


# Defect 4 and 8: the fault endpoint is off by default, checks its types, and is bounded.
def test_the_fault_endpoint_is_off_unless_enabled(localsora: LocalsoraProcess, completed_video: Video) -> None:
    for method in ("GET", "POST"):
        answer = httpx.request(method, f"{localsora.root_url}/_localsora/faults", json={"error_rate": 1})
        assert_error(answer, 404)
    with pytest.raises(RuntimeError, match="--enable-faults"):
        localsora.faults(error_rate=1)
    # No error rate took hold: the videos list still answers, with the finished video and its prompt in it.
    listed = {video.id: video.prompt for video in sdk_client(localsora).videos.list(limit=100)}
    assert listed.get(completed_video.id) == completed_video.prompt


@pytest.mark.parametrize("change", [
    {"inject": "x"}, {"error_rate": "abc"}, {"blocked_words": 5}, {"render_delay": "x"}, [1],
    {"inject": {"count": "x"}}, {"rate_limit": None, "rate_window": "x"}, {"error_rate": 2}, {"clear": "yes"},
    {"inject": {"status": 418}}, {"inject": {"count": 100_000_000, "route": "GET /nowhere"}},
    {"inject": {"route": ["GET /v1/videos"]}}, {"blocked_words": ["a", 1]},
    {"cut_downloads": "2"}, {"cut_downloads": 1.5}, {"cut_downloads": True}, {"cut_downloads": -1},
    {"cut_downloads": 1001},
])
def test_wrong_fault_settings_are_400s_that_change_nothing(start_app, change: object) -> None:
    server = start_app("--enable-faults")
    before = server.http.get("/_localsora/faults").json()
    answer = server.http.post("/_localsora/faults", json=change)
    assert_error(answer, 400)
    assert server.http.get("/_localsora/faults").json() == before
    assert sdk_client(server).videos.list().data == [], "no fault was queued"


def test_fault_settings_with_deep_nesting_or_bad_json_are_400s(start_app) -> None:
    server = start_app("--enable-faults")
    bodies = (b"[" * 100_000, b"{", b'{"inject": {"count": 1, "route": "\\ud800"}}', b'{"blocked_words": ["\\ud800"]}')
    for body in bodies:
        assert server.http.post("/_localsora/faults", content=body, headers=JSON).status_code == 400


def test_the_fault_queue_is_bounded(start_app) -> None:
    server = start_app("--enable-faults")
    server.faults(inject={"status": 500, "count": 1000, "route": "GET /nowhere"})
    answer = server.http.post("/_localsora/faults", json={"inject": {"count": 1}})
    assert_error(answer, 400, "inject.count")
    server.faults(clear=True, inject={"status": 500, "count": 1})
    with pytest.raises(openai.InternalServerError):
        sdk_client(server).videos.list()
    assert sdk_client(server).videos.list().data == []


def test_the_fault_endpoint_needs_the_key_when_one_is_set(start_app) -> None:
    server = start_app("--enable-faults", api_key="fault-key")
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        answer = server.http.post("/_localsora/faults", json={"error_rate": 1}, headers=headers)
        assert_error(answer, 401)
    assert server.faults()["error_rate"] == 0  # the right key (`faults()` sends it) is let in


# Defect 9: Range errors and 405s in the contract's shape.
def content_url(server: LocalsoraProcess, video: Video) -> str:
    return f"{server.base_url}/videos/{video.id}/content"


@pytest.mark.parametrize("header", ["bytes=999999999-", "bytes=-0"])
def test_an_unsatisfiable_range_is_a_416_with_content_range(localsora: LocalsoraProcess, completed_video: Video,
                                                           header: str) -> None:
    size = len(httpx.get(content_url(localsora, completed_video)).content)
    answer = httpx.get(content_url(localsora, completed_video), headers={"Range": header})
    assert_error(answer, 416, "Range")
    assert answer.headers["content-range"] == f"bytes */{size}"


@pytest.mark.parametrize("header", ["bytes=5-1", "bytes=abc", "items=0-1", "bytes=", "bytes=-"])
def test_an_unparseable_range_is_a_json_400(localsora: LocalsoraProcess, completed_video: Video,
                                            header: str) -> None:
    answer = httpx.get(content_url(localsora, completed_video), headers={"Range": header})
    assert_error(answer, 400, "Range")


def test_good_ranges_still_serve_parts(localsora: LocalsoraProcess, completed_video: Video) -> None:
    whole = httpx.get(content_url(localsora, completed_video)).content
    for header, part in (("bytes=0-9", whole[:10]), ("bytes=-5", whole[-5:]), ("bytes=10-", whole[10:]),
                         (f"bytes=5-{len(whole) * 2}", whole[5:])):
        answer = httpx.get(content_url(localsora, completed_video), headers={"Range": header})
        assert answer.status_code == 206 and answer.content == part, header


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("PUT", "/v1/videos", {"GET", "POST"}),
    ("PATCH", "/v1/videos/video_abcdefgh12", {"GET", "DELETE"}),
    ("DELETE", "/v1/models", {"GET"}),
])
def test_every_405_has_an_allow_header_and_an_error_body(localsora: LocalsoraProcess, method: str, path: str,
                                                         allowed: set[str]) -> None:
    answer = httpx.request(method, localsora.root_url + path)
    assert_error(answer, 405)
    assert allowed <= {m.strip() for m in answer.headers["allow"].split(",")}


def test_a_reference_upload_still_works(localsora: LocalsoraProcess, client: OpenAI) -> None:
    # The streamed multipart parser keeps real uploads working.
    video = client.videos.create(prompt="A kite", size="1280x720",
                                 input_reference=("ref.png", png_bytes(1280, 720), "image/png"))
    assert video.status == "queued"


# The typed request models (localsora/protocol.py): one per operation, the same for JSON and forms.
def test_a_text_field_where_a_file_is_expected_is_a_400_naming_it(localsora: LocalsoraProcess) -> None:
    character = httpx.post(localsora.base_url + "/videos/characters", files={"name": (None, "Ada"),
                                                                              "video": (None, "clip.mp4")})
    assert assert_error(character, 400, "video")["code"] == "invalid_type"
    reference = httpx.post(localsora.base_url + "/videos", files={"prompt": (None, "A kite"),
                                                                  "input_reference": (None, "ref.png")})
    assert assert_error(reference, 400, "input_reference")["code"] == "invalid_type"
    # And the other way round: a file where text is expected.
    prompt = httpx.post(localsora.base_url + "/videos", files={"prompt": ("prompt.txt", b"A kite", "text/plain")})
    assert assert_error(prompt, 400, "prompt")["code"] == "invalid_type"


def test_json_and_form_bodies_are_read_into_the_same_request(localsora: LocalsoraProcess) -> None:
    fields = {"prompt": "A kite", "seconds": "4", "size": "1280x720", "seed": 7}
    by_json = httpx.post(localsora.base_url + "/videos", json=fields)
    by_form = httpx.post(localsora.base_url + "/videos", files={k: (None, str(v)) for k, v in fields.items()})
    wires = [httpx.get(f"{localsora.root_url}/_localsora/videos/{answer.json()['id']}/request").json()
             for answer in (by_json, by_form)]
    assert [{k: w[k] for k in ("prompt", "size", "seconds", "params")} for w in wires] == [
        {"prompt": "A kite", "size": "1280x720", "seconds": "4", "params": {"seed": 7}}] * 2
    # A form carries numbers as text; JSON has numbers, so there a number sent as text is refused.
    as_text = httpx.post(localsora.base_url + "/videos", json={**fields, "seed": "7"})
    assert "must be an integer" in assert_error(as_text, 400, "seed")["message"]
    not_a_number = httpx.post(localsora.base_url + "/videos", files={"prompt": (None, "A kite"),
                                                                     "seed": (None, "lucky")})
    assert "must be an integer" in assert_error(not_a_number, 400, "seed")["message"]


def test_a_missing_or_blank_required_field_is_named(localsora: LocalsoraProcess, completed_video: Video) -> None:
    cases = [("/videos", {"prompt": "   "}, "prompt"), ("/videos/edits", {"prompt": "x"}, "video"),
             ("/videos/extensions", {"prompt": "x", "video": {"id": completed_video.id}}, "seconds"),
             ("/videos/characters", {"name": "Ada"}, "video")]
    for route, body, param in cases:
        error = assert_error(httpx.post(localsora.base_url + route, json=body), 400, param)
        assert error["code"] == "missing_required_parameter" and f"'{param}'" in str(error["message"])


def test_a_video_reference_with_unknown_keys_is_refused(localsora: LocalsoraProcess, completed_video: Video) -> None:
    answer = httpx.post(localsora.base_url + "/videos/edits",
                        json={"prompt": "x", "video": {"id": completed_video.id, "url": "https://e.com/a.mp4"}})
    assert assert_error(answer, 400, "video.url")["code"] == "unknown_parameter"


def deleted_temp_files(pid: int) -> set[str]:
    """Unlinked files under the temp folder that process `pid` still holds open (spooled uploads left open)."""
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed while we looked
        if target.startswith(tempfile.gettempdir()) and target.endswith("(deleted)"):
            held.add(target)
    return held


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="reads open files from /proc")
def test_uploads_are_closed_after_every_request(start_app) -> None:
    server = start_app("--max-image-bytes", "3000000")
    pid = os.getpid()  # the app runs in this process
    before = deleted_temp_files(pid)
    spooled = b"x" * 2_000_000  # past the parser's 1 MB in memory, so each upload is a file on disk
    for _ in range(3):
        refused = [
            server.http.post("/v1/videos", files={"prompt": (None, "A kite"), "seconds": (None, "5"),
                                                  "input_reference": ("a.png", spooled, "image/png")}),
            server.http.post("/v1/videos/characters", files={"name": (None, "Ada"),
                                                             "video": ("a.mp4", spooled, "video/mp4")}),
            server.http.post("/v1/videos/edits", files={"prompt": (None, 5 * "x"),
                                                        "video": ("a.mp4", spooled, "video/mp4")}),
        ]
        assert [answer.status_code for answer in refused] == [400, 400, 400]
    assert deleted_temp_files(pid) - before == set(), "an upload's spooled file was left open"


# A fault for download cuts: the headers promise the whole file, half of it comes, then the connection drops.
def test_cut_downloads_break_sdk_downloads_then_stop(faults: LocalsoraProcess) -> None:
    """A real socket: what the SDK must meet is a connection dropped mid-body, which only a socket can do."""
    client = sdk_client(faults)
    video = wait_for_video(client, client.videos.create(prompt="A kite over the dunes", seconds="4").id)
    whole = client.videos.download_content(video.id).read()
    assert faults.faults(cut_downloads=3)["cut_downloads"] == 3
    with pytest.raises(openai.APIConnectionError):
        client.videos.download_content(video.id).read()
    received = bytearray()
    streamed = client.videos.with_streaming_response.download_content(video.id, variant="thumbnail")
    with pytest.raises(httpx2.TransportError), streamed as response:  # a streamed download breaks mid-body
        for chunk in response.iter_bytes():
            received += chunk
    assert 0 < len(received) < int(response.headers["content-length"])
    assert httpx.get(f"{faults.root_url}/_localsora/faults").json()["cut_downloads"] == 1
    faults.faults(clear=True)
    assert faults.faults()["cut_downloads"] == 0
    again = client.videos.download_content(video.id).read()
    assert again == whole and decode_mp4(again).frames > 0


# The studio core under faults: a steady error rate, and a SIGKILL of the studio side mid-job.
def settle_all(jobs: Jobs, video_ids: list[str], deadline: float = 240) -> None:
    """Tick like the job panel (refresh_active) until every job has ended and every completed one is archived."""
    def settled() -> list[str]:
        jobs.refresh_active()
        records = [jobs.library.get(video_id) for video_id in video_ids]
        return [r.video_id for r in records if r is None or r.is_active or (r.status == "completed"
                                                                            and not r.is_archived)]

    wait_until(settled, lambda pending: not pending, what="every job to finish and be archived",
               deadline=deadline)


def videos_with(server: LocalsoraProcess, marker: str) -> list[Video]:
    """Every video on the server whose prompt holds `marker`, across all list pages."""
    return [v for v in sdk_client(server).videos.list(limit=100) if marker in v.prompt]


def assert_archived_once(library: Library, video_ids: list[str]) -> None:
    for video_id in video_ids:
        record = library.get(video_id)
        assert record is not None and record.status == "completed", record
        notes = [entry.note for entry in library.history(video_id)]
        assert notes.count("archived") == 1, (video_id, notes)
        folder = library.folder_for(video_id)
        assert not list(folder.glob("*.part")) and decode_mp4(library.path(record.video_path)).frames > 0


def test_a_steady_error_rate_loses_and_doubles_no_job(faults: LocalsoraProcess, tmp_path: Path) -> None:
    marker = uuid.uuid4().hex[:8]
    # A failed poll is tried again within half a second, not after 2, 4, 8... s: the same failures, less waiting.
    jobs = local_jobs(faults, tmp_path / "library", max_poll_backoff=0.5)
    # 30 % of all requests fail; the first create surely does, so the test never passes by luck alone.
    faults.faults(error_rate=0.3, inject={"status": 500, "count": 1, "route": "POST /v1/videos"})
    started, refused = [], 0
    while len(started) < 15:
        try:
            [record] = jobs.submit(VideoRequest(prompt=f"A kite {marker} number {len(started)}", size="1280x720"))
        except errors.ServerError:  # the studio shows it, and the marketer presses Generate again
            refused += 1
            continue
        started.append(record.video_id)
    settle_all(jobs, started)
    faults.faults(error_rate=0)
    assert refused > 0  # the failed creates reached the user as errors, never as silent retries
    assert sorted(v.id for v in videos_with(faults, marker)) == sorted(started), "a job was lost or doubled"
    assert_archived_once(jobs.library, started)


# Run as a child process: submits jobs through Jobs, prints each id, then follows them until killed.
STUDIO_SIDE = """
import sys, time
from pathlib import Path
from localsora.process import LocalsoraProcess
from studio.jobs import VideoRequest
from tests.conftest import local_jobs

port, library, marker, count = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
jobs = local_jobs(LocalsoraProcess(library, port=port), library)  # the running server, not a new one
for n in range(count):
    [record] = jobs.submit(VideoRequest(prompt=f"A lantern {marker} number {n}", size="1280x720"))
    print(record.video_id, flush=True)
while True:
    jobs.refresh_active()
    time.sleep(0.05)
"""


def test_a_sigkill_of_the_studio_side_mid_job_loses_nothing(start_threaded, tmp_path: Path) -> None:
    """A real process, SIGKILLed: the studio side. The server it talks to needs only a URL (a real socket), so it
    is served from a thread here."""
    server = start_threaded("--poll-after-ms", "100", "--render-delay", "3", "--max-concurrent-jobs", "1")
    marker, library_dir = uuid.uuid4().hex[:8], tmp_path / "library"
    child = subprocess.Popen([sys.executable, "-c", STUDIO_SIDE, str(server.port), str(library_dir), marker, "4"],
                             cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                             text=True)
    try:
        started = [read_line(child.stdout, what="the studio side to print a job's id").strip()  # type: ignore[arg-type]
                   for _ in range(4)]
        assert all(video_id.startswith("video_") for video_id in started), started
        library = Library(library_dir)
        # Killed while the first job renders and the rest wait: mid-job on both sides.
        wait_until(lambda: library.get(started[0]), lambda r: r is not None and r.status == "in_progress",
                   what="the first job to be seen in progress")
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert any(library.get(video_id).is_active for video_id in started), "killed after everything finished"
    jobs = local_jobs(server, library)  # a fresh studio on the same library
    settle_all(jobs, started)
    assert sorted(v.id for v in videos_with(server, marker)) == sorted(started), "a job was lost or doubled"
    assert_archived_once(jobs.library, started)
