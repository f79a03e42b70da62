"""Running a submit from a button: the rate-limit wait shown as it happens, typed errors, no lost input."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from components.context import StudioContext, follow
from components.feedback import queue_toast, show_error
from studio.errors import RateLimited, StudioError
from studio.jobs import OnWait, PartialSubmit
from studio.library import VideoRecord


def run_submit(context: StudioContext, submit: Callable[[OnWait], list[VideoRecord]]) -> list[VideoRecord]:
    """Call `submit(on_wait)`. Started jobs join this session's panel and the page reruns to show them; on an error
    (returning the jobs that did start) the message shows. The page's inputs stay as they were."""
    notice = st.empty()

    def on_wait(seconds: float, error: RateLimited) -> None:
        notice.warning(f"**{error.title}.** {error} The request is sent again by itself; keep this tab open.",
                       icon=":material/schedule:")

    try:
        with st.spinner("Sending the request…"):
            records = submit(on_wait)
    except PartialSubmit as error:
        follow(context, [r.video_id for r in error.records])
        notice.empty()
        show_error(error)
        return error.records
    except StudioError as error:
        notice.empty()
        show_error(error)
        return []
    notice.empty()
    follow(context, [r.video_id for r in records])
    count = f"{len(records)} jobs" if len(records) > 1 else "Job"
    queue_toast(f"{count} started on {context.provider.label}.", icon=":material/rocket_launch:")
    st.rerun()  # the sidebar, drawn before this click was handled, lists the new jobs at once (issue 11, defect 5)
