"""The Python snippet, on the official SDK, that reproduces a request against the current provider.

The snippet runs as copied: the key is read from the environment, never written into it; the URL is the
provider's stable one; a reference image is read from a file named in the script, with a comment saying what
that file must be.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from studio.jobs import VideoRequest
from studio.media.images import FittedImage
from studio.provider.profiles import AZURE_SCOPE, Provider
from studio.provider.url_redaction import redacted_url

EXAMPLE_PROMPT = "The camera slowly pushes in as the scene comes to life."


def _client_lines(provider: Provider) -> list[str]:
    lines = _credentials_note(provider.base_url)
    # Every value from a user or a server goes in as repr: a quote or a newline in it cannot end the string.
    url = repr(redacted_url(provider.base_url or ""))
    if provider.kind == "local":
        url = url if provider.base_url else repr("http://127.0.0.1:8000/v1")
        return ["# localsora. The studio's embedded one stays on 127.0.0.1:8000 (or LOCALSORA_PORT) across restarts.",
                *lines, f'client = OpenAI(base_url={url}, api_key="local")']
    if provider.kind == "azure":
        return [*lines, 'client = OpenAI(',
                f'    base_url={url},',
                '    api_key=os.environ["AZURE_OPENAI_API_KEY"],',
                ')']
    if provider.kind == "azure_entra":
        return ['from azure.identity import DefaultAzureCredential, get_bearer_token_provider',
                '', *lines,
                'client = OpenAI(',
                f'    base_url={url},',
                f'    api_key=get_bearer_token_provider(DefaultAzureCredential(), "{AZURE_SCOPE}"),',
                ')']
    if provider.kind == "compatible":
        key = 'os.environ["SORA_STUDIO_COMPATIBLE_API_KEY"]' if provider.api_key else '"none"'
        return [*lines, f'client = OpenAI(base_url={url}, api_key={key})']
    if provider.base_url and "api.openai.com" not in provider.base_url:
        return [*lines, f'client = OpenAI(base_url={url}, api_key=os.environ["OPENAI_API_KEY"])']
    return ['client = OpenAI(api_key=os.environ["OPENAI_API_KEY"])']


def _credentials_note(base_url: str | None) -> list[str]:
    if not base_url or redacted_url(base_url) == base_url:
        return []
    return ["# The base URL's user name and password are not shown here: put yours in place of ***."]


def _literal(fields: dict[str, Any]) -> str:
    # JSON of strings and numbers is also a Python literal, with the double quotes the rest of the snippet uses.
    return json.dumps(fields)


def fitted_file_name(chosen: str | None, reference: FittedImage) -> str:
    """The name the fitted reference downloads as, and the snippet reads: "product_720x1280.png"."""
    stem = Path(chosen or "reference").stem or "reference"
    return f"{stem}_{reference.width}x{reference.height}{Path(reference.filename).suffix}"


def _reference_lines(chosen: str | None, request: VideoRequest) -> list[str]:
    assert request.reference is not None
    size = f"{request.reference.width}x{request.reference.height}"
    name = fitted_file_name(chosen, request.reference)
    # The file's name goes into a comment: a line break in it would start a line of code.
    yours = f"{' '.join(chosen.split())}, as the studio fitted it" if chosen else "The reference image"
    return [f"# {yours}: exactly {size}, the video's size, or the request fails.",
            '# Save it with "Download the fitted image", or put the path of your own ' + size + " image here.",
            f"IMAGE = {json.dumps(name, ensure_ascii=False)}", ""]


def _keyframed_lines(request: VideoRequest, prompt: str) -> list[str]:
    """A create that places pictures at frames: `inpaint_items` and a `files` part each, through the SDK's `post`
    (`videos.create` sends one file only)."""
    placed = ["    (0, IMAGE),"] if request.reference is not None else []
    # The file's name comes from the studio ("end.png"); json.dumps keeps any name one Python string.
    placed += [f"    ({k.frame_index}, {json.dumps(k.file_name)}),  # put your picture's path here"
               for k in request.keyframes]
    body = f'"prompt": {prompt}, "model": {request.model!r}, "size": {request.size!r}, "seconds": {request.seconds!r}'
    if request.params:
        body += f", **{_literal(request.params)}"
    return ["# Pictures placed at frames (-1 is the last): the Sora 1 API's inpaint_items, each file a part named",
            "# files.",
            "KEYFRAMES = [", *placed, "]",
            'items = [{"frame_index": frame, "type": "image", "file_name": os.path.basename(path)}',
            "         for frame, path in KEYFRAMES]",
            'files = [("files", (os.path.basename(path), open(path, "rb").read(), mimetypes.guess_type(path)[0]))',
            "         for _, path in KEYFRAMES]",
            "video = client.post(",
            '    "/videos",',
            "    cast_to=openai.types.Video,",
            f'    body={{{body}, "inpaint_items": json.dumps(items)}},',
            "    files=files,",
            '    options={"headers": {"Content-Type": "multipart/form-data"}},',
            ")"]


def python_snippet(provider: Provider, request: VideoRequest, *, image_name: str | None = None) -> str:
    """The script. `image_name` is the file the user chose for the reference image, if any."""
    prompt = repr(request.prompt.strip() or EXAMPLE_PROMPT)
    prompt_note = [] if request.prompt.strip() else ["# The prompt box was empty: this one is an example, write yours."]
    extra = f", extra_body={_literal(request.params)}" if request.params else ""
    if request.kind == "remix":
        call = [f"video = client.videos.remix({request.source_video_id!r}, prompt={prompt}{extra})"]
    elif request.kind in ("edit", "extend"):
        body = {**request.params, "video": {"id": request.source_video_id}}
        source = ('video=open("source.mp4", "rb")' + extra if request.source_upload
                  else f"video=omit, extra_body={_literal(body)}")
        seconds = f", seconds={request.added_seconds!r}" if request.kind == "extend" else ""  # the seconds it adds
        call = [f"video = client.videos.{request.kind}(prompt={prompt}{seconds}, {source})"]
    elif request.keyframes:
        call = _keyframed_lines(request, prompt)
    else:
        call = ["video = client.videos.create(",
                f"    prompt={prompt},",
                f"    model={request.model!r},",
                f"    size={request.size!r},",
                f"    seconds={request.seconds!r},  # a string on the wire"]
        if request.reference is not None:
            call.append(f'    input_reference=(IMAGE, open(IMAGE, "rb").read(), {request.reference.mime!r}),')
        if request.params:
            call.append(f"    extra_body={_literal(request.params)},  # fields beyond Sora's that it takes")
        call.append(")")
    client = _client_lines(provider)
    imports = ["import os", "import time"] if any("os.environ" in line for line in client) else ["import time"]
    imports += ["", "from openai import OpenAI"]
    if request.kind in ("edit", "extend") and not request.source_upload:
        imports[-1] = "from openai import OpenAI, omit"
    if request.keyframes:
        imports = ["import json", "import mimetypes", "import os", "import time", "", "import openai",
                   "from openai import OpenAI"]
    reference = _reference_lines(image_name, request) if request.reference is not None else []
    lines = [
        *imports, "",
        *client, "",
        *reference,
        *prompt_note,
        *call,
        "while video.status in (\"queued\", \"in_progress\"):",
        "    time.sleep(2)",
        "    video = client.videos.retrieve(video.id)",
        "if video.status == \"completed\":",
        "    with client.videos.with_streaming_response.download_content(video.id) as response:",
        "        response.stream_to_file(f\"{video.id}.mp4\")",
        "    print(f\"Saved {video.id}.mp4\")",
        "else:",
        "    print(video.error)",
    ]
    if request.variants > 1:
        lines.insert(lines.index(call[0]), f"# Run this {request.variants} times for {request.variants} variants.")
    return "\n".join(lines) + "\n"
