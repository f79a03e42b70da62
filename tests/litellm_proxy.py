"""The real LiteLLM proxy (pip's `litellm[proxy]`, pinned in requirements-litellm.txt) as a test component.

It lives in a venv of its own (`.venv-litellm`, made by `make test`), since its pins clash with the app's (it
wants a newer `openai`). The tests start it as a user would, `litellm --config FILE`, in front of one or more
localsora workers, and reach it only over HTTP.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from localsora.process import end_process, free_port

REPO = Path(__file__).resolve().parent.parent
LITELLM_BIN = Path(os.environ.get("LITELLM_BIN", REPO / ".venv-litellm" / "bin" / "litellm"))
MASTER_KEY = "sk-studio-tests"  # LiteLLM 1.108 refuses a config's routes without a master key
MODEL_NAMES = ("sora-2", "sora-2-pro")


def proxy_config(worker_base_urls: Sequence[str], api_key: str = "local") -> str:
    """A config.yaml: each model name served by every worker, as `openai/` deployments whose `api_base` ends in
    /v1 (LiteLLM appends /videos)."""
    lines = ["model_list:"]
    for name in MODEL_NAMES:
        for base_url in worker_base_urls:
            lines += [f"  - model_name: {name}",
                      "    litellm_params:",
                      f"      model: openai/{name}",
                      f"      api_base: {base_url}",
                      f"      api_key: {api_key}"]
    return "\n".join(lines) + "\n"


class LiteLLMProxy:
    """`litellm --config` on a free loopback port, in front of `worker_base_urls`."""

    def __init__(self, folder: Path, worker_base_urls: Sequence[str]) -> None:
        if not LITELLM_BIN.exists():
            raise RuntimeError(f"The LiteLLM proxy is not installed at {LITELLM_BIN}: run `make test`, which "
                               "installs requirements-litellm.txt into .venv-litellm.")
        self.folder = Path(folder)
        self.worker_base_urls = list(worker_base_urls)
        self.port = free_port()
        self.log_path = self.folder / "litellm.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def api_key(self) -> str:
        return MASTER_KEY

    def start(self, timeout: float = 120.0) -> LiteLLMProxy:
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "config.yaml"
        config.write_text(proxy_config(self.worker_base_urls))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LITELLM_", "DATABASE_URL"))}
        env.update(LITELLM_MASTER_KEY=MASTER_KEY,
                   LITELLM_LOCAL_MODEL_COST_MAP="True",  # offline: no fetch of the price map at start
                   LITELLM_TELEMETRY="False", NO_DOCS="True")
        command = [str(LITELLM_BIN), "--config", str(config), "--host", "127.0.0.1", "--port", str(self.port),
                   "--num_workers", "1"]
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(command, cwd=self.folder, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"litellm exited with {self._process.returncode}; see {self.log_path}")
            if self._alive():
                return self
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"litellm did not answer on port {self.port} within {timeout:g} s; see {self.log_path}")

    def _alive(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/health/liveliness", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            end_process(process)

    def __enter__(self) -> LiteLLMProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
