"""The web page with many jobs, measured in Chromium.

    python3 bench/page.py [--jobs 100000] [--rounds 5]

Loads JOBS jobs into a SQLite database in one import (job N is named "job N of
many"; the first 200 by name have 30 runs each, for the run strips), serves it, and
times in Chromium (playwright; KALA_CHROMIUM or `chromium` on PATH):

- first page: from the start of navigation to the list's first page drawn (50 jobs
  with their strips, and the count of them all);
- find by name: from typing a job's name in the Find box to the list showing that job
  alone (the page waits 200 ms after the last keystroke before it asks: included);
- next page: from pressing Next to the second page drawn.

The baseline, measured in the same run the same way: the same page over a database of
120 jobs, where nothing depends on how many there are. Medians over ROUNDS rounds.
"""

import argparse
import dataclasses
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import KALA, Server, iso  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(os.environ.get("KALA_SCRIPT", KALA))))
import kala  # noqa: E402

BASELINE = 120  # jobs: two pages and a bit, the least a Next button needs
FIRST_PAGE = ("document.getElementById('jobs').rows.length === 50 && "
              "document.getElementById('page-at').textContent.startsWith('1–50 of ')")


def fill(db, count):
    """``count`` jobs, hourly from an hour from now; the first 200 by name with 30 runs."""
    template = kala.job_from_request({"name": "job", "command": "true",
                                      "schedule": f"R/{iso(time.time() + 3600)}/PT1H"},
                                     now=time.time())
    jobs = [dataclasses.replace(template, id=f"many-{i}", name=f"job {i} of many")
            for i in range(count)]
    first = sorted(jobs, key=lambda job: job.name.lower())[:200]
    now = time.time()
    runs = {job.id: [{"trigger": "schedule", "scheduled_for": now - 3600 * k, "node": "bench",
                      "state": "succeeded" if k % 7 else "failed",
                      "ran_at": now - 3600 * k, "finished_at": now - 3600 * k + 0.01 * k,
                      "retries": 0, "duration_ns": int(1e7 * k), "output": "",
                      "error": "" if k % 7 else "exit status 1"} for k in range(30, 0, -1)]
            for job in first}
    store = kala.open_store(db)
    try:
        store.import_jobs(kala.ImportedJobs(jobs, runs))
    finally:
        store.close()


def timings(browser, port, count, rounds):
    """Median seconds: (first page, find by name, next page)."""
    first, found, paged = [], [], []
    name = f"job {count * 7 // 9} of many"
    for _ in range(rounds):
        context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/", wait_until="commit")
        page.wait_for_function(FIRST_PAGE, polling="raf", timeout=60_000)
        first.append(page.evaluate("performance.now()") / 1000)
        # The clock is the page's own: from the keystroke (an input event) or the press.
        page.evaluate("name => { window.began = performance.now(); const box = "
                      "document.getElementById('filter'); box.value = name; "
                      "box.dispatchEvent(new Event('input')); }", name)
        page.wait_for_function(
            "document.getElementById('jobs').rows.length === 1 && document.querySelector("
            f"'#jobs td').textContent === {name!r}", polling="raf", timeout=60_000)
        found.append(page.evaluate("performance.now() - window.began") / 1000)
        page.fill("#filter", "")
        page.wait_for_function(FIRST_PAGE, polling="raf", timeout=60_000)
        page.evaluate("window.began = performance.now(); "
                      "document.getElementById('page-next').click()")
        page.wait_for_function("document.getElementById('page-at').textContent"
                               ".startsWith('51–100 of ')", polling="raf", timeout=60_000)
        paged.append(page.evaluate("performance.now() - window.began") / 1000)
        context.close()
    return [statistics.median(values) for values in (first, found, paged)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright
    executable = os.environ.get("KALA_CHROMIUM") or shutil.which("chromium")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable,
                                             args=["--no-sandbox", "--disable-gpu"])
        results = {}
        for count in (BASELINE, args.jobs):
            db = os.path.join(tmp, f"{count}.db")
            fill(db, count)
            server = Server(db)
            try:
                results[count] = timings(browser, server.port, count, args.rounds)
            finally:
                server.stop()
        browser.close()
    base, many = results[BASELINE], results[args.jobs]
    print(f"page: {args.jobs:,} jobs against {BASELINE}, in Chromium, medians of {args.rounds} rounds")
    for label, index in (("first page drawn", 0), ("find one by name", 1), ("next page", 2)):
        print(f"{label:20} {many[index]:7.3f} s   ({BASELINE} jobs: {base[index]:.3f} s; ratio "
              f"{many[index] / base[index]:.1f})")
    print("goal: the first page in under 1 s with 100,000 jobs")


if __name__ == "__main__":
    main()
