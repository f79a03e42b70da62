"""Test connection: before a server is used, ask it whether it serves videos and what it offers, or say exactly
why not (DNS, TLS, refused, timeout, a rejected key, not a video server), in plain words.

It lists videos and models, and knocks on the remix, edits and extensions routes with a made-up video id: a
server with the route answers that the video does not exist; one without it answers 404 or 405 for the route.
A made-up id cannot start a job, so the test never costs anything. Azure's routes are known, and its job
requests are rate limited, so Azure is not knocked on.
"""

from __future__ import annotations

import json
import socket
import ssl
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from studio import errors
from studio.catalog import EXTENSION_DURATIONS
from studio.provider.dialects import DIALECTS, from_video_fields, route_missing
from studio.provider.discovery import ListedModels, list_models, server_as_listed
from studio.provider.error_mapping import caused_by, retry_after_seconds
from studio.provider.profiles import SECRET_KEYS, Provider, ProviderOffer, with_dialect
from studio.provider.sdk import openai
from studio.provider.url_redaction import redacted_url

if TYPE_CHECKING:
    from openai import OpenAI
    from openai.types import Model

# A list route that is there but refuses: LiteLLM's answers 400 ("LLM Provider NOT provided"). 404/405 mean no route.
LIST_REFUSED = (400, 422)
PROBE_VIDEO_ID = "video_studio_connection_test"  # no server has it, so no probe can start a job
PROBED_MODES = ("remix", "edit", "extend")


@dataclass(frozen=True)
class ConnectionReport:
    ok: bool
    headline: str  # "Connected to gpu-box:8000" or the failure, in a few words
    reason: str = ""  # the detail a user acts on
    problem: str = ""  # dns, tls, refused, timeout, key, forbidden, not_video_server, server_error, unexpected
    videos_seen: int | None = None  # on the first page of the list
    models: tuple[str, ...] = ()  # what GET /v1/models lists; empty when it has no models list
    capabilities: ProviderOffer | None = None  # what it offers, with what the probes found
    absent: dict[str, int] | None = None  # mode -> the status its route answered (404 or 405)
    present: tuple[str, ...] = ()  # probed modes whose route exists
    dialect: str = ""  # studio.provider.dialects name, set by hand or detected; blank when nothing says
    dialect_evidence: str = ""


def check_connection(provider: Provider, *, keep_models: bool = False, timeout: float = 10.0) -> ConnectionReport:
    """Ask `provider`'s server. `keep_models`: the user named the models, so the listed ones do not replace them."""
    if provider.missing:
        return ConnectionReport(False, "Not configured", f"Enter {provider.needs} first.",
                                problem="not_configured")
    if provider.base_url is None:
        return ConnectionReport(False, "No base URL", "Enter the server's base URL first.", problem="not_configured")
    client = provider.client(timeout=timeout).with_options(max_retries=0)
    unlisted = ""  # why its videos cannot be listed, when the route is there but refuses (a gateway)
    try:
        page = client.videos.list(limit=10)
        videos, more = list(page.data), page.has_more
    except openai.APIStatusError as exc:
        listed = _models(client) if exc.status_code in LIST_REFUSED else ListedModels([])
        if not listed.models:
            return _failure(exc, provider, timeout)
        videos, more, unlisted = [], False, f"its videos list answers {exc.status_code}"
        listed = ListedModels(listed.models, {**exc.response.headers, **listed.headers})
    except Exception as exc:  # every failure becomes a reason in words
        return _failure(exc, provider, timeout)
    else:
        listed = _models(client)

    models = listed.models
    found = server_as_listed(provider, listed, keep_models=keep_models)
    absent: dict[str, int] = {}
    present: list[str] = []
    fastapi_404 = False
    if provider.kind not in ("azure", "azure_entra"):
        for mode in PROBED_MODES:
            status, missing = _probe(client, mode)
            if missing:
                absent[mode] = status
                fastapi_404 = fastapi_404 or status == 404
            elif 0 < status < 500:  # a 5xx shows nothing: LiteLLM answers 500 when it routes a probe nowhere
                present.append(mode)

    # Set by hand, or read from the models list; else from fields its videos carry.
    dialect, evidence = found.dialect, "set by hand" if provider.dialect else found.dialect_evidence
    if not dialect and videos and (detected := from_video_fields(videos[0].model_extra or {})) is not None:
        dialect, evidence = detected.dialect.name, detected.evidence
    capabilities = with_dialect(found.capabilities, dialect) if dialect else found.capabilities
    # What the routes answered wins over what a dialect's source says: a newer server may have gained a mode.
    capabilities = replace(capabilities.without(absent), **{mode: True for mode in present})
    if fastapi_404 and not dialect:
        evidence = 'its missing routes answer FastAPI\'s {"detail": "Not Found"} (as vLLM-Omni, SGLang and ' \
                   "LiteLLM do), so it is not OpenAI itself"
    return ConnectionReport(
        True, f"Connected to {provider.host}", _summary(len(videos), more, models, unlisted),
        videos_seen=len(videos), models=tuple(m.id for m in models), capabilities=capabilities,
        absent=absent, present=tuple(present), dialect=dialect, dialect_evidence=evidence,
    )


def _summary(count: int, more: bool, models: list[Model], unlisted: str = "") -> str:
    listed = f"{count}{'+' if more else ''} video{'' if count == 1 else 's'} listed"
    if unlisted:  # the studio then follows the jobs it made one by one
        listed = f"{unlisted}, so the studio follows its own jobs one by one"
    named = f"{len(models)} model{'' if len(models) == 1 else 's'} listed" if models else "no models list"
    return f"It answers as a video server: {listed}, {named}."


def _models(client: OpenAI) -> ListedModels:
    try:
        return list_models(client) or ListedModels([])
    except (errors.StudioError, openai.APIError, ValueError):  # no models list is normal for a gateway
        return ListedModels([])


def _probe(client: OpenAI, mode: str) -> tuple[int, bool]:
    """(status, route missing) for one mode's route; (0, False) when the probe itself could not run."""
    videos = client.videos
    source = {"video": {"id": PROBE_VIDEO_ID}}
    try:
        if mode == "remix":
            videos.remix(PROBE_VIDEO_ID, prompt="connection test")
        elif mode == "edit":
            videos.edit(prompt="connection test", video=openai.omit, extra_body=source)
        else:
            videos.extend(prompt="connection test", seconds=EXTENSION_DURATIONS[0], video=openai.omit,
                          extra_body=source)
    except openai.APIStatusError as exc:
        return exc.status_code, route_missing(exc)
    except (openai.APIError, ValueError):
        return 0, False
    return 200, False  # it took a made-up id: the route is there, whatever it did


def _failure(exc: Exception, provider: Provider, timeout: float) -> ConnectionReport:
    host = provider.host
    videos_url = f"{(provider.base_url or '').rstrip('/')}/videos"
    if isinstance(exc, openai.APITimeoutError):
        return ConnectionReport(False, "No answer", f"{host} did not answer within {timeout:g} s. Is it busy, or "
                                "is a firewall dropping the connection?", problem="timeout")
    if isinstance(exc, openai.APIConnectionError):
        if caused_by(exc, socket.gaierror):
            return ConnectionReport(False, "Host name not found (DNS)",
                                    f"The host name in {redacted_url(provider.base_url or '')} does not resolve. "
                                    "Check its spelling, or your network's DNS.", problem="dns")
        if caused_by(exc, ssl.SSLCertVerificationError):
            return ConnectionReport(False, "TLS certificate not trusted",
                                    f"{host} answered with a certificate this machine does not trust "
                                    f"({_ssl_reason(exc)}).", problem="tls")
        if caused_by(exc, ssl.SSLError):
            return ConnectionReport(False, "TLS handshake failed",
                                    f"{host} did not complete a TLS handshake ({_ssl_reason(exc)}). If the server "
                                    "speaks plain HTTP, the URL should start with http://.", problem="tls")
        if caused_by(exc, ConnectionRefusedError):
            return ConnectionReport(False, "Connection refused",
                                    f"Nothing is listening at {host}. Is the server running, and is the port "
                                    "right?", problem="refused")
        return ConnectionReport(False, "Could not connect", f"The connection to {host} failed before it answered.",
                                problem="refused")
    if isinstance(exc, openai.AuthenticationError):
        if provider.api_key or provider.token_provider:
            reason = f"{host} did not accept the key (401). Check the key, and that it is for this server."
        else:
            reason = f"{host} wants a key (401), and none was given."
        return ConnectionReport(False, "Key rejected", reason, problem="key")
    if isinstance(exc, openai.PermissionDeniedError):
        return ConnectionReport(False, "No access", f"The key works on {host}, but may not use videos (403).",
                                problem="forbidden")
    if isinstance(exc, openai.RateLimitError):
        wait = retry_after_seconds(exc.response.headers)
        return ConnectionReport(True, f"Connected to {host}, rate limited now",
                                f"It answered 429; try again in {wait:.0f} s to see what it offers.")
    if isinstance(exc, openai.APIStatusError) and exc.status_code in (404, 405):
        return ConnectionReport(False, "Not a video server",
                                f"{videos_url} answered {exc.status_code}: there is no videos API there. Check the "
                                "base URL; it usually ends in /v1.", problem="not_video_server")
    if isinstance(exc, openai.APIStatusError):
        return ConnectionReport(False, f"Server error ({exc.status_code})",
                                f"{host} answered {exc.status_code} when asked for its videos. Try again in a "
                                "moment.", problem="server_error")
    return ConnectionReport(False, "Not a videos answer",
                            f"{videos_url} answered, but not as a video server does: what came back is not a list "
                            "of videos. Check the base URL; it usually ends in /v1.", problem="unexpected")


def _ssl_reason(exc: BaseException) -> str:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return getattr(seen, "verify_message", None) or seen.reason or str(seen)
        seen = seen.__cause__ or seen.__context__
    return "no reason given"


def dialect_label(name: str) -> str:
    dialect = DIALECTS.get(name)
    return dialect.label if dialect else "OpenAI Videos API, as far as it shows"


KEY_PLACEHOLDER = "PASTE-YOUR-KEY-HERE"


def secrets_snippet(kind: str, values: dict[str, str]) -> str:
    """The `.streamlit/secrets.toml` lines for this connection. Keys are always a placeholder, never the value."""
    lines = ["# .streamlit/secrets.toml (or the same names as environment variables)",
             f"SORA_STUDIO_PROVIDER = {json.dumps(kind)}"]
    for name, value in values.items():
        if name in SECRET_KEYS:
            if value:
                lines.append(f"{name} = {json.dumps(KEY_PLACEHOLDER)}  # your key goes here; never commit it")
        elif value and not (name == "SORA_STUDIO_DIALECT" and value == "auto"):
            lines.append(f"{name} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"
