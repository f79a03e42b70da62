"""The code snippet: valid Python on the official SDK, for each provider, with keys read from the environment."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from localsora.process import LocalsoraProcess
from studio.jobs import VideoRequest
from studio.media.images import fit
from studio.provider.code_export import EXAMPLE_PROMPT, fitted_file_name, python_snippet
from studio.provider.profiles import load_providers
from tests.media import decode_mp4, png_bytes

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
    assert "seconds='8'" in code and "size='1280x720'" in code and "'A \"quoted\" prompt'" in code
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
    assert 'IMAGE = "reference_720x1280.png"' in image and "reference.png" not in image and ast.parse(image)
    remix = python_snippet(provider, VideoRequest(prompt="y", kind="remix", source_video_id="video_abc"))
    assert "client.videos.remix('video_abc'" in remix
    extend = python_snippet(provider, VideoRequest(prompt="z", kind="extend", seconds="16", added_seconds="12",
                                                   source_video_id="video_abc"))
    assert 'extra_body={"video": {"id": "video_abc"}}' in extend and  "seconds='12'" in extend
    assert "from openai import OpenAI, omit" in extend and ast.parse(extend)


def test_snippets_import_only_what_they_use() -> None:
    local = python_snippet(load_providers(CONFIG)["local"], VideoRequest(prompt="x"))
    assert "import os" not in local
    assert "import os" in python_snippet(load_providers(CONFIG)["openai"], VideoRequest(prompt="x"))


def test_an_image_snippet_names_the_chosen_file_and_never_sends_an_empty_prompt() -> None:
    fitted = fit(png_bytes(800, 800), "720x1280")
    code = python_snippet(load_providers(CONFIG)["local"], VideoRequest(prompt="  ", kind="image", reference=fitted),
                          image_name="summer-bottle.jpg")
    assert "prompt=''" not in code and repr(EXAMPLE_PROMPT) in code and "this one is an example" in code
    assert 'IMAGE = "summer-bottle_720x1280.png"' in code and "# summer-bottle.jpg, as the studio fitted it" in code
    assert "reference.png" not in code


def _run_as_copied(code: str, folder: Path) -> list[Path]:
    (folder / "make_video.py").write_text(code)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI_"))}
    done = subprocess.run([sys.executable, "make_video.py"], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr
    made = sorted(folder.glob("video_*.mp4"))
    assert len(made) == 1 and f"Saved {made[0].name}" in done.stdout
    return made


def test_the_exported_image_snippet_runs_as_copied_against_localsora(localsora: LocalsoraProcess,
                                                                     tmp_path: Path) -> None:
    provider = load_providers({"LOCALSORA_URL": localsora.root_url})["local"]
    fitted = fit(png_bytes(800, 800), "720x1280")
    (tmp_path / fitted_file_name("summer-bottle.jpg", fitted)).write_bytes(fitted.data)  # "Download the fitted image"
    code = python_snippet(provider, VideoRequest(prompt="", kind="image", size="720x1280", reference=fitted),
                          image_name="summer-bottle.jpg")
    clip = decode_mp4(_run_as_copied(code, tmp_path)[0])
    assert (clip.width, clip.height) == (720, 1280)


def test_the_exported_text_snippet_runs_as_copied_against_localsora(localsora: LocalsoraProcess,
                                                                    tmp_path: Path) -> None:
    provider = load_providers({"LOCALSORA_URL": localsora.root_url})["local"]
    code = python_snippet(provider, VideoRequest(prompt="A red fox in the snow", size="1280x720", seconds="4"))
    clip = decode_mp4(_run_as_copied(code, tmp_path)[0])
    assert (clip.width, clip.height) == (1280, 720)
