"""What a server says it offers: `GET /v1/models`, each model carrying a `capabilities` object (localsora does).

The result replaces the static profile. A server that lists no capabilities (an older localsora, a gateway)
keeps the static profile: `discover` returns None. A server that cannot be reached, or fails for now, raises a
StudioError, so a caller that caches the answer does not cache the outage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from studio import errors
from studio.provider.dialects import from_headers, from_models
from studio.provider.profiles import ParameterSpec, Provider, ProviderOffer, with_dialect
from studio.provider.sdk import openai
from studio.provider.url_redaction import redacted_url

if TYPE_CHECKING:
    from openai import OpenAI
    from openai.types import Model

PARAMETER_TYPES = ("integer", "number", "string", "boolean")


@dataclass(frozen=True)
class ListedModels:
    models: list[Model]
    headers: Mapping[str, str] = field(default_factory=dict)  # a gateway's own headers tell whose it is


def list_models(client: OpenAI) -> ListedModels | None:
    """`GET /v1/models`; None when the server has no models list. Raises on connection errors and passing faults."""
    try:
        answer = client.models.with_raw_response.list()
        return ListedModels(list(answer.parse()), answer.headers)
    except openai.APIConnectionError as exc:
        raise errors.BackendUnreachable(f"Could not ask {redacted_url(str(client.base_url))} what it offers.") from exc
    except openai.APIStatusError as exc:
        if exc.status_code == 429 or exc.status_code >= 500:  # a passing fault, not an answer
            raise errors.ServerError(f"{redacted_url(str(client.base_url))} could not say what it offers now "
                                     f"({exc.status_code}).") \
                from exc
        return None  # it answered, but has no models list (404, 405, ...): keep the static profile


def discover(client: OpenAI, static: ProviderOffer) -> ProviderOffer | None:
    """The provider's own capabilities, or None when it does not list them. Raises on connection errors."""
    listed = list_models(client)
    return None if listed is None else capabilities_from_models(listed.models, static)


def discover_server(provider: Provider, *, keep_models: bool) -> Provider:
    """An OpenAI-compatible server, as its models list shows it: the capabilities it declares (localsora does),
    else the model names it serves (unless `keep_models`: the user named them), and its dialect where it says.
    Raises on connection errors, like `discover`."""
    listed = list_models(provider.client(timeout=10.0).with_options(max_retries=0)) or ListedModels([])
    return server_as_listed(provider, listed, keep_models=keep_models)


def server_as_listed(provider: Provider, listed: ListedModels, *, keep_models: bool) -> Provider:
    """`discover_server` without the request: the profile as this models list shows it."""
    models = listed.models
    capabilities = capabilities_from_models(models, provider.capabilities)
    if capabilities is None:
        capabilities = provider.capabilities
        ids = tuple(dict.fromkeys(m.id for m in models if isinstance(m.id, str) and m.id))
        if ids and not keep_models:
            every = tuple(dict.fromkeys(s for sizes in capabilities.sizes.values() for s in sizes))
            capabilities = replace(capabilities, sizes={model_id: every for model_id in ids})
    found = provider.with_capabilities(capabilities)
    if provider.dialect:  # set by hand: it wins over what the server seems to be
        return replace(found, capabilities=with_dialect(found.capabilities, provider.dialect))
    detected = from_models(models) or from_headers(listed.headers)
    if detected is None:
        return found
    return replace(found, capabilities=with_dialect(found.capabilities, detected.dialect.name),
                   dialect=detected.dialect.name, dialect_evidence=detected.evidence)


def capabilities_from_models(models: Iterable[Model], static: ProviderOffer) -> ProviderOffer | None:
    """Build a ProviderOffer from listed models; None when no model carries a usable `capabilities` object.

    Sizes are per model. Durations, parameters and sound come from the first model (localsora's models share
    them); a mode is offered when any model offers it, since the server still checks each request.
    """
    described = [(m.id, caps) for m in models if isinstance(caps := _extra(m, "capabilities"), Mapping)]
    sizes = {model_id: _strings(caps.get("sizes")) for model_id, caps in described}
    sizes = {model_id: found for model_id, found in sizes.items() if found}
    if not sizes:
        return None
    first = next(caps for model_id, caps in described if model_id in sizes)
    modes = {mode for model_id, caps in described if model_id in sizes for mode in _strings(caps.get("modes"))}
    return replace(
        static,
        sizes=sizes,
        durations=_strings(first.get("seconds")) or static.durations,
        extension_durations=_strings(first.get("extension_seconds")) or static.extension_durations,
        text="text" in modes, image="image" in modes,
        remix="remix" in modes, edit="edit" in modes, extend="extend" in modes, keyframes="keyframes" in modes,
        free_text_models=False,
        parameters=_parameters(first.get("parameters")),
        audio=first.get("audio") is not False,
        engine=str(first.get("engine") or ""),
        serving=str(first.get("serving") or ""),
    )


def _extra(model: Model, name: str) -> Any:
    # Fields the SDK's Model does not declare arrive in model_extra (pydantic v2), or as attributes.
    extra = getattr(model, "model_extra", None) or {}
    return extra.get(name, getattr(model, name, None))


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(str(v) for v in value if isinstance(v, str | int) and not isinstance(v, bool))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _parameters(value: Any) -> dict[str, ParameterSpec]:
    if not isinstance(value, Mapping):
        return {}
    parameters = {}
    for name, spec in value.items():
        if not isinstance(spec, Mapping) or spec.get("type") not in PARAMETER_TYPES:
            continue  # a kind of field the studio has no widget for
        parameters[str(name)] = ParameterSpec(
            name=str(name), type=spec["type"], minimum=_number(spec.get("minimum")),
            maximum=_number(spec.get("maximum")), description=str(spec.get("description") or ""),
        )
    return parameters
