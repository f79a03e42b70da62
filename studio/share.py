"""Share for review: one self-contained HTML file (the video embedded, its prompt, facts and comments) that can be
sent to someone outside the studio and opened from disk.

It asks nothing of the network: the MP4 is a base64 `data:` URI, the CSS is inline, there is no script, and its
Content-Security-Policy forbids every other load. Everything that came from a person or a server is escaped.
"""

from __future__ import annotations

import base64
import html
import time
from datetime import datetime
from pathlib import Path

from studio.errors import InvalidInput
from studio.library import Library, VideoRecord
from studio.prompts import short_title
from studio.review import Comment, comments, review_history, review_label

SHARE_LIMIT_BYTES = 60 * 1024 * 1024  # a bigger MP4 makes a page most mail and chat tools refuse, and slow to open
_CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; background: #f6f7f9;
       margin: 0; padding: 24px; }
main { max-width: 960px; margin: 0 auto; background: #fff; border-radius: 12px; padding: 24px;
       box-shadow: 0 1px 3px rgba(0, 0, 0, .12); }
h1 { font-size: 22px; margin: 0 0 12px; overflow-wrap: anywhere; }
h2 { font-size: 16px; margin: 24px 0 8px; }
video { width: 100%; max-height: 70vh; background: #000; border-radius: 8px; }
blockquote { margin: 12px 0; padding: 8px 12px; border-left: 4px solid #8250df; background: #f6f2ff;
             white-space: pre-wrap; overflow-wrap: anywhere; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dt { color: #59636e; }
dd { margin: 0; overflow-wrap: anywhere; }
.comment { border-top: 1px solid #e5e7eb; padding: 8px 0; }
.comment p { margin: 4px 0 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.meta, footer { color: #59636e; font-size: 13px; }
footer { margin-top: 24px; }
"""
# No load of any kind but the embedded video and the inline style: a hostile string that slipped through still
# could not fetch, post or run anything.
_POLICY = "default-src 'none'; media-src data:; img-src data:; style-src 'unsafe-inline'"


class ShareTooLarge(InvalidInput):
    title = "Too large to share as one file"


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def _video_file(library: Library, record: VideoRecord) -> Path:
    path = library.path(record.video_path)
    if record.status != "completed" or path is None or not path.is_file():
        raise InvalidInput("Only a finished video that is in this library can be shared for review.")
    return path


def _shareable_video(library: Library, record: VideoRecord) -> Path:
    path = _video_file(library, record)
    if (size := path.stat().st_size) > SHARE_LIMIT_BYTES:
        raise ShareTooLarge(
            f"The video is {_megabytes(size)}; a review page embeds it whole and holds up to "
            f"{_megabytes(SHARE_LIMIT_BYTES)}, so that it opens anywhere and passes through mail. "
            "Share a shorter or smaller export, or send the MP4 itself with Download."
        )
    return path


def share_refusal(library: Library, record: VideoRecord) -> str | None:
    """Why this video cannot be shared as one file, in words; None when it can."""
    try:
        _shareable_video(library, record)
    except InvalidInput as error:
        return str(error)
    return None


def shared_size(library: Library, record: VideoRecord) -> str:
    """About how big the review page will be, in words (base64 makes the MP4 a third bigger)."""
    return _megabytes(_video_file(library, record).stat().st_size * 4 // 3 + len(_CSS) + 4096)


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def _text(value: object) -> str:
    return html.escape(str(value), quote=True)


def _facts(record: VideoRecord, approved_by: str) -> str:
    rows = [
        ("Model", record.model),
        ("Size", record.size),
        ("Length", f"{record.seconds} s"),
        ("Made", _when(record.created_at)),
        ("By", record.owner or "—"),
        ("Review status", review_label(record.review_status) + approved_by),
    ]
    if record.folder:
        rows.append(("Folder", record.folder))
    rows.append(("Video id", record.video_id))
    return "".join(f"<dt>{_text(name)}</dt><dd>{_text(value)}</dd>" for name, value in rows)


def _comment(comment: Comment) -> str:
    return (
        f"<div class='comment'><span class='meta'><strong>{_text(comment.author or 'Someone')}</strong> · "
        f"{_text(_when(comment.created_at))}</span><p>{_text(comment.body)}</p></div>"
    )


def review_page(library: Library, record: VideoRecord) -> bytes:
    """The review page as UTF-8 bytes; ShareTooLarge, saying the size, above SHARE_LIMIT_BYTES."""
    video = base64.b64encode(_shareable_video(library, record).read_bytes()).decode("ascii")
    changes = review_history(library, record.video_id)
    last = changes[-1] if changes else None
    by = (
        f" ({last.author}, {_when(last.at)})"
        if last and last.author and last.review_status == record.review_status
        else ""
    )
    notes = comments(library, record.video_id)
    title = record.title or short_title(record.prompt or record.video_id, 80)
    said = "".join(_comment(c) for c in notes) or "<p class='meta'>No comments yet.</p>"
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_POLICY}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Review: {_text(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<h1>{_text(title)}</h1>
<video controls playsinline preload="auto" src="data:video/mp4;base64,{video}"></video>
<h2>Prompt</h2>
<blockquote>{_text(record.prompt) or "No prompt recorded."}</blockquote>
<h2>Facts</h2>
<dl>{_facts(record, by)}</dl>
<h2>Comments ({len(notes)})</h2>
{said}
<footer>Shared for review from Sora Studio on {_text(_when(time.time()))}.</footer>
</main>
</body>
</html>
"""
    return page.encode("utf-8")
