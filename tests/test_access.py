"""Who may change what (studio/access.py): the passcode hash, the signed session token, the refusal to serve beyond
loopback with no sign-in, and the owner checks inside the studio's own operations, where no page can skip them."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio import access
from studio import batch as batches
from studio import storyboard as boards
from studio.access import Actor, NotYours
from studio.jobs import Jobs
from studio.library import Library, VideoRecord
from studio.provider.profiles import load_providers

REPO = Path(__file__).resolve().parent.parent
ANN = Actor("ann", signed_in=True)
BOB = Actor("bob", signed_in=True)
ADMIN = Actor("carol", signed_in=True, admin=True)


def test_a_passcode_hash_matches_only_its_passcode() -> None:
    stored = access.hash_passcode("correct horse battery")
    assert stored.startswith("scrypt$") and "correct" not in stored
    assert access.passcode_matches("correct horse battery", stored)
    assert not access.passcode_matches("correct horse batterY", stored)
    assert not access.passcode_matches("correct horse battery", "not a hash")
    assert access.hash_passcode("same") != access.hash_passcode("same"), "salted"


def test_a_session_token_names_its_holder_and_cannot_be_forged_or_kept_forever() -> None:
    key = access.hash_passcode("team passcode")
    token = access.session_token("Ann Lee", key)
    assert access.session_name(token, key) == "Ann Lee"
    _, issued, signature = token.split(".")
    as_bob = f"{access.session_token('bob', key).split('.')[0]}.{issued}.{signature}"  # Ann's signature, Bob's name
    assert access.session_name(as_bob, key) is None
    assert access.session_name(token, access.hash_passcode("team passcode")) is None, "another server's key"
    assert access.session_name("bob", key) is None and access.session_name("a.b.c", key) is None
    old = access.session_token("ann", key, now=time.time() - (access.SESSION_DAYS + 1) * 86400)
    assert access.session_name(old, key) is None


def test_only_the_owner_or_an_admin_may_change_work_once_signed_in() -> None:
    assert ANN.may_change("ann") and not ANN.may_change("bob") and not ANN.may_change("")
    assert ADMIN.may_change("bob") and ADMIN.may_change("")
    assert Actor("ann").may_change("bob"), "without sign-in, names are labels"
    settings = access.sign_in_from({access.PASSCODE_KEY: "scrypt$x", access.ADMINS_KEY: "Carol, dave@example.com"},
                                   environ={})
    assert settings.actor("carol", signed_in=True).admin and not settings.actor("ann", signed_in=True).admin
    assert not settings.actor("carol", signed_in=False).admin, "an unproven name is never an admin"


def test_with_a_passcode_an_admins_name_needs_the_admins_passcode() -> None:
    settings = access.SignIn(passcode_hash=access.hash_passcode("team passcode"), admins=frozenset({"carol"}),
                             admin_passcode_hash=access.hash_passcode("admins only"))
    assert settings.passcode_refusal("Ann", "team passcode") is None
    assert settings.passcode_refusal("Ann", "admins only") == "That passcode is not this studio's."
    assert "admin" in settings.passcode_refusal("CAROL", "team passcode"), "the team passcode makes no admin"
    assert settings.passcode_refusal("Carol", "admins only") is None
    without = access.SignIn(passcode_hash=settings.passcode_hash, admins=frozenset({"carol"}))
    assert without.passcode_refusal("carol", "team passcode") is not None, "no admin passcode: no admin sign-in"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_serves_with_no_sign_in(host: str) -> None:
    assert access.serving_problem(host, access.SignIn()) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "studio.example.com", None])
def test_any_other_address_needs_sign_in(host: str | None) -> None:
    problem = access.serving_problem(host, access.SignIn())
    assert problem and access.PASSCODE_KEY in problem and "[auth]" in problem
    assert access.serving_problem(host, access.SignIn(passcode_hash="scrypt$x")) is None
    oidc = access.sign_in_from({"auth": {"redirect_uri": "http://x/oauth2callback", "cookie_secret": "s"}}, {})
    assert access.serving_problem(host, oidc) is None


def test_the_command_line_prints_a_hash_and_checks_a_host(tmp_path: Path) -> None:
    hashed = subprocess.run([sys.executable, "-m", "studio.access", "hash"], input="our team passcode\n",
                            capture_output=True, text=True, cwd=REPO, check=True).stdout.strip()
    assert hashed.startswith(f'{access.PASSCODE_KEY} = "scrypt$')
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("# nothing yet\n")
    check = [sys.executable, "-m", "studio.access", "preflight", "0.0.0.0", "--secrets", str(secrets)]
    refused = subprocess.run(check, capture_output=True, text=True, cwd=REPO)
    assert refused.returncode == 1 and "Refusing to serve" in refused.stderr
    secrets.write_text(hashed + "\n")
    assert subprocess.run(check, capture_output=True, text=True, cwd=REPO).returncode == 0
    stored = access.read_secrets([secrets])[access.PASSCODE_KEY]
    assert access.passcode_matches("our team passcode", stored)


def _video(library: Library, video_id: str, owner: str) -> VideoRecord:
    return library.add(VideoRecord(video_id=video_id, provider="local", kind="generate", status="completed",
                                   prompt=f"{owner}'s video", model="sora-2", size="1280x720", seconds="4",
                                   created_at=time.time(), owner=owner))


def test_the_library_and_jobs_refuse_to_rename_favourite_or_delete_someone_elses_video(tmp_path: Path) -> None:
    library = Library(tmp_path)
    _video(library, "video_bob", "bob")
    provider = load_providers({"LOCALSORA_URL": "http://127.0.0.1:9"})["local"]  # never reached: refused first
    with pytest.raises(NotYours, match="bob's"):
        library.rename("video_bob", title="mine now", tags="", actor=ANN)
    with pytest.raises(NotYours):
        Jobs(provider, library, owner="ann", actor=ANN).delete("video_bob", "both")
    with pytest.raises(NotYours):
        library.trash("video_bob", ANN)
    with pytest.raises(NotYours, match="favourite"):  # a star everyone's gallery shows
        library.set_favourite("video_bob", True, ANN)
    kept = library.get("video_bob")
    assert kept is not None and kept.title == "" and kept.trashed_at is None and not kept.remote_deleted
    assert not kept.favourite
    assert library.set_favourite("video_bob", True, BOB).favourite

    library.rename("video_bob", title="Bob's cut", tags="", actor=BOB)
    assert Jobs(provider, library, actor=ADMIN).delete("video_bob", "local") == "Moved to the trash."
    with pytest.raises(NotYours):
        library.restore("video_bob", ANN)
    assert library.restore("video_bob", BOB) and library.get("video_bob").title == "Bob's cut"


def test_batches_and_storyboards_refuse_someone_elses_pause_cancel_and_edit(tmp_path: Path) -> None:
    library = Library(tmp_path)
    now = time.time()
    library.add_batch({"batch_id": "batch_bob", "name": "Bob's", "tag": "bob", "provider": "local", "owner": "bob",
                       "state": "running", "max_concurrent": 1, "created_at": now, "updated_at": now}, [])
    for change in (batches.pause, batches.cancel):
        with pytest.raises(NotYours):
            change(library, "batch_bob", ANN)
    assert library.batch("batch_bob")["state"] == "running"
    batches.pause(library, "batch_bob", BOB)
    batches.cancel(library, "batch_bob", ADMIN)
    assert library.batch("batch_bob")["state"] == "cancelled"

    provider = load_providers({"LOCALSORA_URL": "http://127.0.0.1:9"})["local"]
    board = boards.new_storyboard("Bob's board", provider, "sora-2", "1280x720", owner="bob")
    boards.save(library, board)
    with pytest.raises(NotYours):
        boards.edit(library, board.storyboard_id, lambda b: setattr(b, "title", "Ann's now"), ANN)
    with pytest.raises(NotYours):
        boards.request_render(library, board.storyboard_id, provider, ANN)
    assert boards.load(library, board.storyboard_id).title == "Bob's board"
    boards.edit(library, board.storyboard_id, lambda b: setattr(b, "title", "Bob's final"), BOB)
    assert boards.load(library, board.storyboard_id).title == "Bob's final"
