"""localsora speaking other servers' dialects of /v1/videos, through the real SDK (sources in docs/providers.md)."""

from __future__ import annotations

from collections.abc import Callable

import openai
import pytest

from localsora.process import LocalsoraProcess
from tests.conftest import wait_for_video


def test_vllm_omni_has_no_remix_edits_extensions_or_characters(
    start_localsora: Callable[..., LocalsoraProcess],
) -> None:
    server = start_localsora("--dialect", "vllm-omni", "--poll-after-ms", "100")
    client = openai.OpenAI(base_url=server.base_url, api_key="local", max_retries=0)
    video = wait_for_video(client, client.videos.create(prompt="A paper boat on a pond", seconds="4").id)
    assert video.status == "completed"
    attempts = {
        "remix": lambda: client.videos.remix(video.id, prompt="at night"),
        "edits": lambda: client.videos.edit(prompt="at night", video=openai.omit,
                                            extra_body={"video": {"id": video.id}}),
        "extensions": lambda: client.videos.extend(prompt="then it sinks", seconds="4", video=openai.omit,
                                                   extra_body={"video": {"id": video.id}}),
        "characters": lambda: client.videos.create_character(name="Boat", video=("b.mp4", b"x", "video/mp4")),
    }
    for route, attempt in attempts.items():
        with pytest.raises(openai.NotFoundError) as missing:
            attempt()
        assert missing.value.body == {"detail": "Not Found"}, route  # FastAPI's own 404, not OpenAI's shape
    assert client.videos.retrieve(video.id).status == "completed"  # what it has still works
