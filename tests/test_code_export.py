"""The code snippet: valid Python on the official SDK, for each provider, with keys read from the environment."""

from __future__ import annotations

import ast

import pytest

from studio.code_export import python_snippet
from studio.images import fit
from studio.jobs import VideoRequest
from studio.providers import load_providers
from tests.media import png_bytes

KEY = "fake-key-never-in-a-snippet-1234567890"
CONFIG = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": "https://gateway.example/v1",
          "AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com", "AZURE_OPENAI_API_KEY": KEY,
          "LOCALSORA_URL": "http://127.0.0.1:8000"}


@pytest.mark.parametrize("kind", ["local", "openai", "azure"])
def test_snippets_are_python_and_never_inline_a_key(kind: str) -> None:
    provider = load_providers(CONFIG)[kind]
    code = python_snippet(provider, VideoRequest(prompt='A "quoted" prompt', seconds="8", size="1280x720"))
    ast.parse(code)
    assert KEY not in code
    assert 'seconds="8"' in code and 'size="1280x720"' in code and "'A \"quoted\" prompt'" in code
    assert provider.base_url in code
    if kind != "local":
        assert "os.environ[" in code


def test_entra_snippet_uses_the_token_provider() -> None:
    provider = load_providers({"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com"})["azure_entra"]
    code = python_snippet(provider, VideoRequest(prompt="x"))
    ast.parse(code)
    assert "get_bearer_token_provider(DefaultAzureCredential()" in code


def test_image_remix_and_extend_snippets() -> None:
    provider = load_providers(CONFIG)["local"]
    fitted = fit(png_bytes(800, 800), "720x1280")
    image = python_snippet(provider, VideoRequest(prompt="x", kind="image", reference=fitted))
    assert "input_reference=(\"reference.png\"" in image and ast.parse(image)
    remix = python_snippet(provider, VideoRequest(prompt="y", kind="remix", source_video_id="video_abc"))
    assert 'client.videos.remix("video_abc"' in remix
    extend = python_snippet(provider, VideoRequest(prompt="z", kind="extend", seconds="12",
                                                   source_video_id="video_abc"))
    assert 'extra_body={"video": {"id": "video_abc"}}' in extend and 'seconds="12"' in extend
    assert "from openai import OpenAI, omit" in extend and ast.parse(extend)
