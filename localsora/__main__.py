"""`python -m localsora --host 127.0.0.1 --port 8000 --data-dir DIR [--engine diffusers --model PATH]`:
serve the Videos API locally."""

from __future__ import annotations

import logging
import sys

import uvicorn

from localsora.config import parse_args
from localsora.engines import EngineUnavailable
from localsora.server import create_app


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        app = create_app(settings)  # a diffusers model loads here, before the port opens
    except EngineUnavailable as exc:
        print(f"localsora: {exc}", file=sys.stderr)
        return 2
    if settings.host not in ("127.0.0.1", "localhost", "::1") and not settings.api_key:
        logging.getLogger("localsora").warning(
            "Binding %s without --api-key: anyone who can reach this port can create and delete videos.",
            settings.host,
        )
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
