"""Who may change what, and how a person proves who they are.

On loopback the studio serves one person, and owner names are labels. Shared on a network it serves only with
sign-in (Streamlit's OIDC `[auth]`, or a team passcode kept hashed in secrets.toml), and then each person deletes,
renames, pauses and cancels only their own work; admins (`SORA_STUDIO_ADMINS`) anything. The studio's operations
call `require_owner` themselves, so no page, and no crafted rerun, can skip the check.

`python -m studio.access hash` prints the line to put in secrets.toml for a passcode; `python -m studio.access
preflight HOST` is what `make run` asks before it serves on HOST.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import hashlib
import hmac
import ipaddress
import os
import secrets
import sys
import time
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio import errors

PASSCODE_KEY = "SORA_STUDIO_PASSCODE_HASH"
# With a passcode, a name is what a person types: an admin's name signs in only with the admins' own passcode.
ADMIN_PASSCODE_KEY = "SORA_STUDIO_ADMIN_PASSCODE_HASH"
ADMINS_KEY = "SORA_STUDIO_ADMINS"
SECRETS_FILES = (Path.home() / ".streamlit" / "secrets.toml", Path(".streamlit") / "secrets.toml")  # as Streamlit
SESSION_DAYS = 30
# scrypt at n=2**14, r=8 (16 MiB, about 50 ms): slow enough that a leaked hash is no quick dictionary attack.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_SCHEME = "scrypt"


class NotYours(errors.StudioError):
    """A signed-in person asked to change someone else's work."""

    title = "Not yours to change"


@dataclass(frozen=True)
class Actor:
    """Who asks. `signed_in` means the name was proven (OIDC, or a signed passcode session); otherwise it is only a
    label anyone may type, and the studio checks nothing (it is then on loopback, one person's)."""

    name: str
    signed_in: bool = False
    admin: bool = False

    def may_change(self, owner: str) -> bool:
        # Work with no owner (made before sign-in was set up) is an admin's to change.
        return not self.signed_in or self.admin or (bool(owner) and owner == self.name)


def require_owner(actor: Actor | None, owner: str, what: str) -> None:
    """Refuse, in words, when `actor` may not change work owned by `owner`. None is the server itself (the
    background worker), which acts for everyone."""
    if actor is not None and not actor.may_change(owner):
        whose = f"{owner}'s" if owner else "someone else's"
        raise NotYours(f"This is {whose}: only they or an admin can {what}. You can still view and remix it.")


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class SignIn:
    """How this server signs people in, read from secrets.toml and the environment (which wins)."""

    oidc: bool = False
    passcode_hash: str = ""
    admins: frozenset[str] = frozenset()
    admin_passcode_hash: str = ""

    @property
    def configured(self) -> bool:
        return self.oidc or bool(self.passcode_hash)

    @property
    def signing_secret(self) -> str:
        """What session tokens are signed with: the stored hashes, server secrets both; a new passcode for
        either signs everyone out."""
        return f"{self.passcode_hash}\n{self.admin_passcode_hash}"

    def passcode_refusal(self, name: str, passcode: str) -> str | None:
        """Why `name` may not sign in with `passcode`, in words; None when they may."""
        if name.casefold() in self.admins:
            if self.admin_passcode_hash and passcode_matches(passcode, self.admin_passcode_hash):
                return None
            return "That name is an admin's: sign in with the admins' passcode."
        return None if passcode_matches(passcode, self.passcode_hash) else "That passcode is not this studio's."

    def actor(self, name: str, *, signed_in: bool) -> Actor:
        return Actor(name, signed_in=signed_in, admin=signed_in and name.casefold() in self.admins)


def sign_in_from(secrets_values: Mapping[str, Any], environ: Mapping[str, str] = os.environ) -> SignIn:
    auth = secrets_values.get("auth")
    oidc = isinstance(auth, Mapping) and bool(auth.get("redirect_uri")) and bool(auth.get("cookie_secret"))
    passcode = str(environ.get(PASSCODE_KEY) or secrets_values.get(PASSCODE_KEY) or "").strip()
    admins = environ.get(ADMINS_KEY) or secrets_values.get(ADMINS_KEY) or ""
    names = admins.split(",") if isinstance(admins, str) else [str(a) for a in admins]
    admin_passcode = str(environ.get(ADMIN_PASSCODE_KEY) or secrets_values.get(ADMIN_PASSCODE_KEY) or "").strip()
    return SignIn(oidc, passcode, frozenset(n.strip().casefold() for n in names if n.strip()), admin_passcode)


def read_secrets(files: Iterable[Path | str] = SECRETS_FILES) -> dict[str, Any]:
    """The secrets.toml files merged, later ones winning, as Streamlit merges them; missing files are skipped."""
    merged: dict[str, Any] = {}
    for file in files:
        path = Path(file)
        if path.is_file():
            with path.open("rb") as handle:
                merged.update(tomllib.load(handle))
    return merged


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serving_problem(host: str | None, sign_in: SignIn) -> str | None:
    """Why the studio must not serve on `host` (None or "" means every interface), or None when it may."""
    if host and is_loopback(host):
        return None
    if sign_in.configured:
        return None
    where = f"on {host}" if host else "on every network interface"
    return (f"Refusing to serve Sora Studio {where} with no sign-in: anyone who can reach it could delete and spend "
            "as anyone. Configure sign-in in .streamlit/secrets.toml, either a team passcode (run `python -m "
            f"studio.access hash` and add the {PASSCODE_KEY} line it prints) or Streamlit's OIDC [auth] block "
            "(see .streamlit/secrets.toml.example), or serve on loopback only (make run, HOST=127.0.0.1).")


# ---------------------------------------------------------------- the passcode and signed sessions


def hash_passcode(passcode: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(passcode.encode(), salt=salt, **_SCRYPT)
    return f"{_SCHEME}${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def passcode_matches(passcode: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != _SCHEME:
            return False
        tried = hashlib.scrypt(passcode.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    except ValueError:  # a malformed hash in secrets.toml matches nothing
        return False
    return hmac.compare_digest(tried.hex(), digest)


def _session_key(signing_secret: str) -> bytes:
    return hmac.new(signing_secret.encode(), b"sora-studio session v1", hashlib.sha256).digest()


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


def session_token(name: str, signing_secret: str, *, now: float | None = None) -> str:
    """A token naming `name`, signed with the server's key: a browser keeps it, and cannot forge another."""
    body = f"{_encode(name)}.{int(now if now is not None else time.time())}"
    signature = hmac.new(_session_key(signing_secret), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{signature}"


def session_name(token: str, signing_secret: str, *, now: float | None = None) -> str | None:
    """The name a token was signed for, or None when it is forged, malformed or older than SESSION_DAYS."""
    if not signing_secret.strip() or token.count(".") != 2:
        return None
    body, _, signature = token.rpartition(".")
    expected = hmac.new(_session_key(signing_secret), body.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return None
    encoded, _, issued = body.partition(".")
    try:
        name, issued_at = _decode(encoded), int(issued)
    except (ValueError, UnicodeDecodeError):
        return None
    age = (now if now is not None else time.time()) - issued_at
    return name if 0 <= age <= SESSION_DAYS * 86400 and name else None


# ---------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio.access")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("hash", help="print the secrets.toml line for a team passcode (asked, not echoed)")
    check = commands.add_parser("preflight", help="exit 1, saying what to configure, when HOST needs sign-in")
    check.add_argument("host")
    check.add_argument("--secrets", action="append", type=Path,
                       help="a secrets.toml to read (repeatable); default: Streamlit's own two places")
    args = parser.parse_args(argv)
    if args.command == "hash":
        passcode = getpass.getpass("Team passcode: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
        if len(passcode) < 8:
            print("A passcode needs at least 8 characters.", file=sys.stderr)
            return 1
        print(f'{PASSCODE_KEY} = "{hash_passcode(passcode)}"')
        return 0
    problem = serving_problem(args.host, sign_in_from(read_secrets(args.secrets or SECRETS_FILES)))
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
