"""A batch of 5 through `studio.batch` at Azure's real pace: 2 job requests a minute, 2 at once.

    .venv/bin/python bench/batch.py [--rows 5] [--paced-by server|studio|both]

localsora runs with --azure-limits (2 job requests per 60 s, 429 with Retry-After past that). Two ways to meet
that cap, each on a fresh server and library:
  studio  the batch's own pace (the Azure preset) keeps requests under the cap; no 429 should come back
  server  no pace of its own: the server's 429s and their Retry-After pace it
Prints the wall time from start to every video archived, when each create was sent, and how many 429s came back.
With 5 rows the floor is two full windows (sends at 0, 0, 60, 60 and 120 s) plus one render.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message="The Sora API is scheduled", category=DeprecationWarning)
TICK = 0.2  # seconds between `advance` calls, as the background worker ticks


def run(rows: int, paced_by: str) -> None:
    from localsora.process import LocalsoraProcess
    from studio import batch as batches
    from studio.jobs import Jobs
    from studio.library import Library
    from studio.provider.discovery import discover
    from studio.provider.profiles import load_providers

    with tempfile.TemporaryDirectory() as folder, \
            LocalsoraProcess(Path(folder) / "localsora", args=["--azure-limits", "--poll-after-ms", "200"]) as server:
        provider = load_providers({"LOCALSORA_URL": server.root_url})["local"]
        provider = provider.with_capabilities(discover(provider.client(), provider.capabilities) or
                                              provider.capabilities)
        library = Library(Path(folder) / "library")
        jobs = Jobs(provider, library)
        text = "prompt\n" + "".join(f"\"Take {i + 1}: a red kite over green hills, slow pan right\"\n"
                                    for i in range(rows))
        plan = batches.plan_batch(batches.parse_csv(text, batches.RowDefaults("sora-2", "1280x720", "4")), provider)
        pace = batches.PACE_PRESETS["Azure OpenAI: 2 a minute"] if paced_by == "studio" \
            else batches.Pace(max_concurrent=rows)
        start = time.time()
        batch = batches.start_batch(library, provider, plan, pace=pace)
        answered_429 = 0
        last_wait = None
        while batch.state != "finished":
            report = batches.advance(library, jobs)
            if report.waiting_until is not None and report.waiting_until != last_wait:
                answered_429 += 1  # a new Retry-After: the server refused a create
            last_wait = report.waiting_until or last_wait
            time.sleep(TICK)
            batch = batches.load_batch(library, batch.batch_id) or batch
        elapsed = time.time() - start
        sent = ", ".join(f"{r.requested_at - start:.0f}" for r in batch.rows if r.requested_at)
        print(f"paced by {paced_by:<6}  {rows} rows  {pace.label:<28}  {elapsed:6.1f} s to all archived  "
              f"sent at [{sent}] s  429s: {answered_429}  ({batch.summary})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5)
    parser.add_argument("--paced-by", choices=["studio", "server", "both"], default="both")
    args = parser.parse_args()
    for paced_by in (["studio", "server"] if args.paced_by == "both" else [args.paced_by]):
        run(args.rows, paced_by)


if __name__ == "__main__":
    main()
