"""A base URL as it may be shown or stored: a user name and password typed into it (`http://user:pass@host/v1`)
are secrets, so everything that shows a URL, writes one to the library or puts one into a snippet reads it
through here."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

HIDDEN = "***"


def redacted_url(url: str) -> str:
    """`url` with its credentials, if any, replaced by `***` (`http://***@host/v1`); otherwise as it was."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=f"{HIDDEN}@{host_of(url)}"))


def host_of(url: str) -> str:
    """The host and port of `url`, never its credentials; "" when it has none."""
    return urlsplit(url).netloc.rpartition("@")[2]
