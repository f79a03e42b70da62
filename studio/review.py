"""Review: comments on a video, its review status with who moved it when, and the folder (campaign) it is filed in.

Who may do what is checked here, where no page can skip it (studio.access): with sign-in, anyone signed in may
comment; the video's owner and admins set its status and file it; a comment is deleted by its author or an admin.
Without sign-in (loopback, one person's studio) names are labels and anyone may do anything.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from studio.access import Actor, NotYours, require_owner
from studio.errors import InvalidInput, StudioError
from studio.library import Library, VideoRecord

# The order is the review's: a new video is a draft, then in review, then approved or sent back.
REVIEW_STATUSES = {
    "draft": "Draft",
    "in_review": "In review",
    "approved": "Approved",
    "changes_requested": "Changes requested",
}
COMMENT_LIMIT = 10_000  # characters: a long note is kept whole, a pasted document is refused
FOLDER_LIMIT = 60  # characters in a folder's name
_NOT_NAME = re.compile(r"[\x00-\x1f\x7f]+")


class SignInNeeded(StudioError):
    title = "Sign in first"


@dataclass(frozen=True)
class Comment:
    id: int
    video_id: str
    author: str  # "" when nobody gave a name
    body: str  # as typed: plain text, escaped wherever it is shown
    created_at: float


@dataclass(frozen=True)
class ReviewChange:
    review_status: str
    author: str
    at: float

    @property
    def label(self) -> str:
        return review_label(self.review_status)


def review_label(review_status: str) -> str:
    return REVIEW_STATUSES.get(review_status, review_status)


def _video(library: Library, video_id: str) -> VideoRecord:
    record = library.get(video_id)
    if record is None:
        raise InvalidInput("This video is no longer in the library: it may have been removed for good.")
    return record


def add_comment(
    library: Library, video_id: str, body: str, actor: Actor | None, *, now: float | None = None
) -> Comment:
    """Anyone signed in (or anyone at all, without sign-in) comments; blank and over-long comments are refused."""
    if actor is not None and actor.signed_in and not actor.name:
        raise SignInNeeded("Sign in to comment: a comment says who wrote it.")
    text = body.strip("\n\r\t ")
    if not text:
        raise InvalidInput("Write something first: the comment is empty.")
    if len(text) > COMMENT_LIMIT:
        raise InvalidInput(
            f"A comment holds up to {COMMENT_LIMIT:,} characters; this one has {len(text):,}. "
            "Split it in two, or link to a document."
        )
    _video(library, video_id)
    at = time.time() if now is None else now
    author = actor.name if actor is not None else ""
    return Comment(library.add_comment(video_id, author, text, at), video_id, author, text, at)


def comments(library: Library, video_id: str) -> list[Comment]:
    """Oldest first."""
    return [
        Comment(row["id"], row["video_id"], row["author"], row["body"], row["created_at"])
        for row in library.comments(video_id)
    ]


def may_delete_comment(actor: Actor | None, comment: Comment) -> bool:
    return actor is None or actor.may_change(comment.author)


def delete_comment(library: Library, comment_id: int, actor: Actor | None) -> bool:
    """Its author or an admin deletes a comment. False when it was gone already."""
    row = library.comment(comment_id)
    if row is None:
        return False
    if actor is not None and not actor.may_change(row["author"]):
        whose = f"{row['author']}'s" if row["author"] else "someone else's"
        raise NotYours(f"This comment is {whose}: only they or an admin can delete it.")
    return library.remove_comment(comment_id)


def may_review(actor: Actor | None, record: VideoRecord) -> bool:
    """Whether `actor` may set the video's status and folder: its owner and admins (anyone, without sign-in)."""
    return actor is None or actor.may_change(record.owner)


def set_review_status(
    library: Library, video_id: str, review_status: str, actor: Actor | None, *, now: float | None = None
) -> VideoRecord:
    """Move the review status, written to its history with who and when; the same status again changes nothing."""
    if review_status not in REVIEW_STATUSES:
        raise InvalidInput(
            f"'{review_status}' is not a review status: choose one of {', '.join(REVIEW_STATUSES.values())}."
        )
    record = _video(library, video_id)
    require_owner(actor, record.owner, "set its review status")
    if record.review_status == review_status:
        return record
    if record.status != "completed" and review_status != "draft":
        raise InvalidInput("Only a finished video can be sent for review or approved.")
    library.set_review_status(
        video_id, review_status, actor.name if actor is not None else "", time.time() if now is None else now
    )
    return _video(library, video_id)


def review_history(library: Library, video_id: str) -> list[ReviewChange]:
    """Oldest first."""
    return [ReviewChange(row["review_status"], row["author"], row["at"]) for row in library.review_history(video_id)]


def folder_name(text: str, known: list[str]) -> str:
    """`text` as a folder's name: one line, spaces collapsed, and an existing folder's own spelling when it names
    one in other letter case, so "spring launch" files beside "Spring launch" rather than into a twin."""
    name = " ".join(_NOT_NAME.sub(" ", text).split())
    if len(name) > FOLDER_LIMIT:
        raise InvalidInput(f"A folder's name holds up to {FOLDER_LIMIT} characters; this one has {len(name)}.")
    return next((folder for folder in known if folder.casefold() == name.casefold()), name)


def file_in_folder(library: Library, video_id: str, folder: str, actor: Actor | None) -> VideoRecord:
    """File the video in `folder` (a new name makes a new folder; "" takes it out of any)."""
    record = _video(library, video_id)
    require_owner(actor, record.owner, "file it in a folder")
    name = folder_name(folder, library.folders())
    return library.update(video_id, folder=name) or record
