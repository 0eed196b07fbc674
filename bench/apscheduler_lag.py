"""The APScheduler column of bench/firing_lag.py, run inside its own venv.

    <venv>/bin/python bench/apscheduler_lag.py JOBS SECONDS DB_PATH

JOBS interval jobs each firing once a second, spread over the second, in
APScheduler 3's BackgroundScheduler with its SQLAlchemy job store on a SQLite
file in WAL mode; each run starts ``true`` as kala.py's would. Prints one JSON
line: the lag of every run in the measuring window and the process's CPU share.
"""

import json
import resource
import subprocess
import sys
import time

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import create_engine, event

LAGS = []
WINDOW = [0.0, 0.0]


def run(offset):
    now = time.time()
    if WINDOW[0] <= now < WINDOW[1]:
        LAGS.append((now - offset) % 1.0)  # each job is due at offset + k seconds
    subprocess.run(["true"])


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main():
    jobs, seconds, path = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def wal(connection, record):
        connection.execute("PRAGMA journal_mode=WAL")

    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine)},
        executors={"default": ThreadPoolExecutor(64)},
        job_defaults={"misfire_grace_time": 60, "coalesce": False, "max_instances": 3})
    begin = time.time() + 3
    for i in range(jobs):
        offset = begin + i / jobs
        scheduler.add_job(run, "interval", seconds=1, args=[offset], id=f"j{i}",
                          next_run_time=_datetime(offset))
    scheduler.start()
    WINDOW[:] = [begin + 1, begin + 1 + seconds]
    time.sleep(max(0.0, WINDOW[0] - time.time()))
    cpu = cpu_seconds()
    time.sleep(max(0.0, WINDOW[1] - time.time()))
    cpu = (cpu_seconds() - cpu) / seconds
    time.sleep(1.0)
    scheduler.shutdown(wait=False)
    print(json.dumps({"lags": LAGS, "cpu": cpu, "expected": jobs * int(seconds)}))


def _datetime(when):
    from datetime import datetime, timezone
    return datetime.fromtimestamp(when, timezone.utc)


if __name__ == "__main__":
    main()
