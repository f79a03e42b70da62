"""`python -m localsora --host 127.0.0.1 --port 8000 --data-dir DIR [--engine diffusers --model PATH]`:
serve the Videos API locally."""

from __future__ import annotations

import logging
import signal
import sys
import threading

import uvicorn
from fastapi import FastAPI

from localsora.config import Settings, parse_args
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
    return serve(app, settings)


def serve(app: FastAPI, settings: Settings) -> int:
    """HTTP on a thread of its own while the main thread renders (`JobQueue.reserve_caller` says why)."""
    job_queue = app.state.job_queue
    job_queue.reserve_caller()
    server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                                           access_log=False))

    def run_http() -> None:
        try:
            server.run()
        finally:  # also when it never started: the port was taken, say
            job_queue.release_caller()

    for signum in (signal.SIGINT, signal.SIGTERM):  # uvicorn listens for signals only on the main thread
        signal.signal(signum, server.handle_exit)
    http = threading.Thread(target=run_http, name="localsora-http")
    http.start()
    job_queue.work_here()
    http.join()
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
