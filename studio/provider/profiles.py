"""Provider profiles (local, an OpenAI-compatible server, OpenAI or a gateway, Azure by key, Azure by Entra ID)
and the client factory.

Configuration is a plain mapping (environment variables, `.streamlit/secrets.toml`, or a session's own
overrides), so this module never needs Streamlit. Keys are wrapped in `Secret` the moment they are read.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlparse

import httpx

from studio.catalog import DEFAULT_MODEL, DURATIONS, EVERY_SIZE, EXTENSION_DURATIONS, SORA_SIZES, sizes_of
from studio.errors import RateLimited
from studio.provider.dialects import DIALECT_CHOICES, dialect_named
from studio.provider.sdk import openai
from studio.provider.secret import Secret
from studio.provider.url_redaction import host_of

if TYPE_CHECKING:
    from openai import OpenAI

# Every client.videos call warns that OpenAI's hosted Sora API shut down. We know; say it once, here.
warnings.filterwarnings("ignore", message="The Sora API is scheduled", category=DeprecationWarning)

ProviderKind = Literal["local", "compatible", "openai", "azure", "azure_entra"]
AZURE_SCOPE = "https://cognitiveservices.azure.com/.default"
OPENAI_SHUTDOWN_NOTE = ("OpenAI's own Videos API shut down on 2026-09-24. This profile serves any OpenAI-compatible "
                        "gateway: set OPENAI_BASE_URL to it.")

# Every configuration key the studio reads, with what it is for (README and secrets.toml.example list them).
CONFIG_KEYS: dict[str, str] = {
    "SORA_STUDIO_PROVIDER": "Which profile to start with: local, compatible, openai, azure or azure_entra.",
    "SORA_STUDIO_DATA_DIR": "Where the library keeps its database and files (default ./data).",
    "SORA_STUDIO_MODELS": "Comma-separated model names a gateway or compatible server serves (free text is allowed "
                          "too).",
    "SORA_STUDIO_JOB_DEADLINE_MINUTES": "Minutes before an unfinished job is marked timed out (default 30).",
    "SORA_STUDIO_COMPATIBLE_URL": "Base URL of an OpenAI-compatible video server: vLLM-Omni, SGLang Diffusion, "
                                  "a LiteLLM proxy or a gateway (e.g. http://gpu-box:8000/v1).",
    "SORA_STUDIO_COMPATIBLE_API_KEY": "Key for that server, if it wants one.",
    "SORA_STUDIO_DIALECT": f"What that server is, where it differs: {', '.join(DIALECT_CHOICES)} (default auto: "
                           "read from what it answers).",
    "LOCALSORA_URL": "Use this running localsora (e.g. http://127.0.0.1:8000) instead of starting one.",
    "OPENAI_API_KEY": "Key for OpenAI or an OpenAI-compatible gateway.",
    "OPENAI_BASE_URL": "Base URL of an OpenAI-compatible gateway (default https://api.openai.com/v1).",
    "AZURE_OPENAI_ENDPOINT": "https://RESOURCE.openai.azure.com (the studio adds /openai/v1/).",
    "AZURE_OPENAI_API_KEY": "Azure OpenAI key. Leave it out to sign in with Entra ID instead.",
    "AZURE_OPENAI_DEPLOYMENT": f"Azure deployment name of the video model (default {DEFAULT_MODEL}).",
}

SECRET_KEYS = frozenset({"OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "SORA_STUDIO_COMPATIBLE_API_KEY"})


@dataclass(frozen=True)
class ParameterSpec:
    """An extra request field a provider declares (vLLM-Omni's names: seed, negative_prompt, ...) and its range."""

    name: str
    type: Literal["integer", "number", "string", "boolean"]
    minimum: float | None = None
    maximum: float | None = None  # for a string: its longest length
    description: str = ""


@dataclass(frozen=True)
class ProviderOffer:
    """What a provider offers. Models not listed are allowed when `free_text_models` is true."""

    sizes: Mapping[str, tuple[str, ...]]
    durations: tuple[str, ...] = DURATIONS
    extension_durations: tuple[str, ...] = EXTENSION_DURATIONS
    text: bool = True  # video from a prompt alone
    image: bool = True  # a reference image to animate
    remix: bool = True
    edit: bool = True
    extend: bool = True
    characters: bool = True
    keyframes: bool = False  # pictures placed at frames (`inpaint_items`; Loop, Blend): only where a server says so
    free_text_models: bool = False
    free_sizes: bool = False  # any WIDTHxHEIGHT is taken (vLLM-Omni, SGLang); `sizes` are then suggestions
    jobs_per_minute: int | None = None
    parameters: Mapping[str, ParameterSpec] = field(default_factory=dict)  # extra fields it takes, by name
    audio: bool = True
    engine: str = ""  # localsora's engine ("previz", "diffusers") when the provider says
    serving: str = ""  # what renders, in words, when the provider says: "Wan2.1-T2V-1.3B on cuda:0"

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(self.sizes)

    def sizes_for(self, model: str) -> tuple[str, ...]:
        if model in self.sizes:
            return self.sizes[model]
        every = dict.fromkeys(s for sizes in self.sizes.values() for s in sizes)
        return tuple(every) or EVERY_SIZE

    def actions(self) -> tuple[str, ...]:
        flags = {"Remix": self.remix, "Edit": self.edit, "Extend": self.extend}
        return tuple(name for name, on in flags.items() if on)

    def without(self, modes: Iterable[str]) -> ProviderOffer:
        """These capabilities less the modes a server showed it lacks (remix, edit, extend, characters)."""
        absent = {mode: False for mode in modes if mode in ("remix", "edit", "extend", "characters")}
        return replace(self, **absent) if absent else self


# Each setting a profile can lack, in a user's words (Settings → Connect a provider is where it is typed).
NEEDED_IN_WORDS = {
    "SORA_STUDIO_COMPATIBLE_URL": "the server's base URL",
    "OPENAI_API_KEY": "an API key",
    "AZURE_OPENAI_ENDPOINT": "the Azure OpenAI endpoint",
    "AZURE_OPENAI_API_KEY": "an Azure OpenAI API key",
}


@dataclass(frozen=True)
class Provider:
    kind: ProviderKind
    label: str
    base_url: str | None
    capabilities: ProviderOffer
    api_key: Secret | None = None
    # Entra ID: a callable the SDK asks for a fresh bearer token before each request.
    token_provider: Callable[[], str] | None = field(default=None, repr=False, compare=False)
    missing: tuple[str, ...] = ()  # settings still needed before this profile can work
    note: str = ""  # what a user should know about this profile, in a sentence
    dialect: str = ""  # the dialect (studio.provider.dialects) set by hand or detected; blank: plain OpenAI contract
    dialect_evidence: str = ""  # how it was detected, in words; blank when set by hand
    learned_absent: tuple[str, ...] = ()  # modes this server answered 404/405 for, remembered in the library
    # Clients are reused, so requests share a connection pool instead of opening one each.
    _clients: dict[tuple[bool, float], OpenAI] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def configured(self) -> bool:
        return not self.missing

    @property
    def needs(self) -> str:
        """What it still needs, in words ("" when nothing): never a variable's name."""
        return " and ".join(NEEDED_IN_WORDS.get(name, name) for name in self.missing)

    @property
    def host(self) -> str:
        return host_of(self.base_url or "") or "(not started)"

    def with_base_url(self, base_url: str) -> Provider:
        return replace(self, base_url=base_url)

    def with_absent_modes(self, modes: Iterable[str]) -> Provider:
        """This profile without the modes its server answered 404 or 405 for."""
        modes = tuple(sorted(set(modes)))
        if not modes:
            return self
        return replace(self, capabilities=self.capabilities.without(modes), learned_absent=modes)

    def with_capabilities(self, capabilities: ProviderOffer) -> Provider:
        """This profile with what the server itself says it offers; a model engine gets its own label."""
        label = self.label
        if capabilities.engine and capabilities.engine != "previz" and capabilities.serving:
            label = f"Local model ({capabilities.serving})" if self.kind == "local" else self.label
        return replace(self, capabilities=capabilities, label=label)

    def client(self, *, creating: bool = False, timeout: float = 60.0) -> OpenAI:
        """An SDK client. `creating=True` turns SDK retries off: a retried POST could start a second billed job."""
        cached = self._clients.get((creating, timeout))
        if cached is not None:
            return cached
        if self.missing:
            raise ValueError(f"{self.label} is not configured: set {', '.join(self.missing)}")
        if self.base_url is None:
            raise ValueError(f"{self.label} has no base URL yet")
        credential: str | Callable[[], str]
        if self.token_provider is not None:
            credential = self.token_provider
        elif self.api_key:
            credential = self.api_key.reveal()
        else:
            credential = "local"
        client = openai.OpenAI(
            base_url=self.base_url,
            api_key=credential,
            max_retries=0 if creating else 2,
            timeout=httpx.Timeout(timeout, connect=5.0),
        )
        self._clients[(creating, timeout)] = client
        return client


def azure_base_url(endpoint: str) -> str:
    """'https://res.openai.azure.com' -> 'https://res.openai.azure.com/openai/v1/'."""
    root = endpoint.strip().rstrip("/")
    if root.endswith("/openai/v1"):
        return root + "/"
    if root.endswith("/openai"):
        return root + "/v1/"
    return root + "/openai/v1/"


def with_v1(url: str) -> str:
    """'http://host:8000' -> 'http://host:8000/v1'; a URL with a path of its own is kept as given."""
    url = url.strip().rstrip("/")
    return url + "/v1" if url and urlparse(url).path in ("", "/") else url


def _models_from(config: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    # A plain dict, never the catalog's read-only view: a ProviderOffer is pickled when Streamlit caches it.
    names = [m.strip() for m in config.get("SORA_STUDIO_MODELS", "").split(",") if m.strip()]
    if not names:
        return dict(SORA_SIZES)
    # A name the catalog knows (a dated snapshot too) makes its model's sizes; any other may make any Sora size.
    return {name: sizes_of(name) or EVERY_SIZE for name in names}


def load_providers(
    config: Mapping[str, str],
    *,
    credential_factory: Callable[[], Any] | None = None,
) -> dict[ProviderKind, Provider]:
    """Every profile, configured or not. `credential_factory` makes the Entra ID credential (tests pass their own)."""
    get = lambda key: (config.get(key) or "").strip()  # noqa: E731
    providers: dict[ProviderKind, Provider] = {}

    local_url = get("LOCALSORA_URL").rstrip("/")
    providers["local"] = Provider(
        kind="local",
        label="Local preview renderer",
        base_url=(local_url + "/v1") if local_url and not local_url.endswith("/v1") else (local_url or None),
        capabilities=ProviderOffer(sizes=dict(SORA_SIZES), keyframes=True),  # localsora places frames
    )

    compatible_url = with_v1(get("SORA_STUDIO_COMPATIBLE_URL"))
    compatible_key = get("SORA_STUDIO_COMPATIBLE_API_KEY")
    dialect = dialect_named(get("SORA_STUDIO_DIALECT"))
    compatible_caps = ProviderOffer(sizes=_models_from(config), free_text_models=True)
    providers["compatible"] = Provider(
        kind="compatible",
        label="OpenAI-compatible server" + (f" ({dialect.label})" if dialect and dialect.name != "openai" else ""),
        base_url=compatible_url or None,
        api_key=Secret(compatible_key) if compatible_key else None,
        capabilities=with_dialect(compatible_caps, dialect.name) if dialect else compatible_caps,
        missing=() if compatible_url else ("SORA_STUDIO_COMPATIBLE_URL",),
        note="Any server that speaks /v1/videos: vLLM-Omni, SGLang Diffusion, a LiteLLM proxy or a gateway.",
        dialect=dialect.name if dialect else "",
    )

    openai_key = get("OPENAI_API_KEY")
    base_url = get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
    providers["openai"] = Provider(
        kind="openai",
        label="OpenAI-compatible gateway" if get("OPENAI_BASE_URL") else "OpenAI",
        base_url=base_url,
        api_key=Secret(openai_key) if openai_key else None,
        capabilities=ProviderOffer(sizes=_models_from(config), free_text_models=True),
        missing=() if openai_key else ("OPENAI_API_KEY",),
        note=OPENAI_SHUTDOWN_NOTE,
    )

    endpoint = get("AZURE_OPENAI_ENDPOINT")
    azure_key = get("AZURE_OPENAI_API_KEY")
    deployment = get("AZURE_OPENAI_DEPLOYMENT") or DEFAULT_MODEL
    # Azure's sora-2 offers text and image to video and remix, at 2 job requests a minute.
    azure_caps = ProviderOffer(
        sizes={deployment: sizes_of(deployment) or SORA_SIZES[DEFAULT_MODEL]},
        edit=False, extend=False, characters=False, free_text_models=True, jobs_per_minute=2,
    )
    azure_url = azure_base_url(endpoint) if endpoint else None
    providers["azure"] = Provider(
        kind="azure",
        label="Azure OpenAI (key)",
        base_url=azure_url,
        api_key=Secret(azure_key) if azure_key else None,
        capabilities=azure_caps,
        missing=tuple(k for k, v in (("AZURE_OPENAI_ENDPOINT", endpoint), ("AZURE_OPENAI_API_KEY", azure_key))
                      if not v),
    )
    token_provider = _entra_token_provider(credential_factory) if endpoint and not azure_key else None
    providers["azure_entra"] = Provider(
        kind="azure_entra",
        label="Azure OpenAI (Entra ID)",
        base_url=azure_url,
        capabilities=azure_caps,
        token_provider=token_provider,
        missing=() if endpoint else ("AZURE_OPENAI_ENDPOINT",),
    )
    return providers


# The extra fields a dialect's server takes, where its own models list does not say (vLLM-Omni's
# vllm_omni/entrypoints/openai/protocol/videos.py, VideoGenerationRequest).
DIALECT_PARAMETERS: dict[str, dict[str, ParameterSpec]] = {
    "vllm-omni": {
        "seed": ParameterSpec("seed", "integer"),
        "negative_prompt": ParameterSpec("negative_prompt", "string"),
        "num_inference_steps": ParameterSpec("num_inference_steps", "integer", 1, 200),
        "guidance_scale": ParameterSpec("guidance_scale", "number", 0.0, 20.0),
        "fps": ParameterSpec("fps", "integer", 1),
        "num_frames": ParameterSpec("num_frames", "integer", 1),
    },
}


def with_dialect(capabilities: ProviderOffer, dialect_name: str) -> ProviderOffer:
    """What a dialect changes: free sizes, the modes its server is known to lack, the extra fields it takes."""
    dialect = dialect_named(dialect_name)
    if dialect is None:
        return capabilities
    return replace(capabilities.without(dialect.absent), free_sizes=capabilities.free_sizes or dialect.free_sizes,
                   parameters=capabilities.parameters or DIALECT_PARAMETERS.get(dialect.name, {}))


def _entra_token_provider(credential_factory: Callable[[], Any] | None) -> Callable[[], str]:
    """A lazy token provider: the credential is only made when the first request needs a token."""
    from azure.identity import get_bearer_token_provider

    state: dict[str, Callable[[], str]] = {}

    def token() -> str:
        if "provider" not in state:
            if credential_factory is None:
                from azure.identity import DefaultAzureCredential

                credential = DefaultAzureCredential()
            else:
                credential = credential_factory()
            state["provider"] = get_bearer_token_provider(credential, AZURE_SCOPE)
        return state["provider"]()

    return token


def default_kind(config: Mapping[str, str], providers: Mapping[ProviderKind, Provider]) -> ProviderKind:
    """The profile to start with: the one asked for, else a configured remote one, else local."""
    asked = (config.get("SORA_STUDIO_PROVIDER") or "").strip()
    if asked in providers:
        return asked  # type: ignore[return-value]
    for kind in ("compatible", "azure", "azure_entra", "openai"):
        if providers[kind].configured:  # type: ignore[index]
            return kind  # type: ignore[return-value]
    return "local"


@dataclass(frozen=True)
class Health:
    ok: bool
    summary: str  # e.g. "Azure OpenAI (Entra ID): connected"
    detail: str = ""
    starting: bool = False  # on its way (the embedded renderer starting): nothing for the user to fix


def check_health(provider: Provider, timeout: float = 5.0) -> Health:
    """One cheap list call, explained in words: which backend is live, and why not."""
    from studio.provider.error_mapping import from_sdk

    if provider.missing:
        return Health(False, f"{provider.label}: not configured",
                      f"It needs {provider.needs}: add it in Settings → Connect a provider.")
    if provider.base_url is None:
        return Health(False, f"{provider.label}: not started", "The local renderer has not started yet.")
    try:
        provider.client(timeout=timeout).with_options(max_retries=0).videos.list(limit=1)
    except Exception as exc:  # every failure becomes a reason shown in the sidebar
        error = from_sdk(exc, provider)
        if isinstance(error, RateLimited):  # it answered: up, just busy
            return Health(True, f"{provider.label}: connected, rate limited now", str(error))
        return Health(False, f"{provider.label}: {error.title.lower()}", str(error))
    caps = provider.capabilities
    if provider.kind == "local" and caps.engine not in ("", "previz") and caps.serving:
        return Health(True, f"Local model: {caps.serving}{'' if caps.audio else ' · no sound'}",
                      f"localsora runs it through {caps.engine} on this machine; no key, no network.")
    if provider.kind == "local":
        return Health(True, "Local preview renderer: offline, no AI model",
                      "localsora renders previz clips on this machine; no key, no network.")
    return Health(True, f"{provider.label}: connected", provider.host)
