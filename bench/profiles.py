"""Flame graphs of the API shapes that miss their targets, written by every `make bench`.

After the measurements (so that no figure carries a profiler's cost), each shape of `PROFILED`, and
each shape whose p99 missed the tail target in this run (`chosen`), is loaded again with wrk at the run's concurrency for `SECONDS`, while py-spy samples the gunicorn
workers (Python: where a request's time goes, waiting on PostgreSQL included) and `perf` samples
PostgreSQL's processes, backends and parallel workers (bench/flame.py: what it does with that time). Both
graphs go to bench/results/profiles/, named by shape and N, next to the run they explain. The
password logins through Keycloak have theirs from bench/keycloak.py (`profile_logins`).
"""

import re
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from bench import flame
from bench.curve import REFERENCE
from bench.load import log, wrk
from bench.memory import PROFILES, in_checkout, scrub

# The shapes that did not stay flat from 1M to 10M users or over their limit (bench/curve.py), and
# a SCIM lookup, the lookup whose p99 is furthest above the reference's; profiled in every run.
PROFILED = ("search prefix (search=smi)", "search substring, rare (*uaintrel*)", "count (search=smi)",
            "lookup by userName, SCIM")
TAIL_LIMIT = 1.2  # the tail target: p99 within this many times the reference's, in the same run
SECONDS = 15


def chosen(http):
    """PROFILED, then every shape whose p99 missed the tail target in this run (`http`: the run's
    measurements by name), so that each miss has its own graphs."""
    reference = http[REFERENCE]["p99_ms"]
    missed = [name for name, row in http.items() if name != REFERENCE and row["p99_ms"] > TAIL_LIMIT * reference]
    return list(dict.fromkeys([*PROFILED, *missed]))


def slug(name):
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@contextmanager
def under_load(url, path, users, auth, args, what, body=None):
    """wrk on `path` at the run's concurrency for the block (`SECONDS` and a margin); a failure of
    wrk is raised after it, since a graph of an idle server would explain nothing."""
    failures = []

    def loading():
        try:
            wrk(url, path, users, auth, SECONDS + 4, args.connections, min(args.threads, args.connections), body)
        except Exception as error:
            failures.append(error)

    load = threading.Thread(target=loading)
    load.start()
    try:
        yield
    finally:
        load.join()
    if failures:
        raise SystemExit(f"wrk failed while {what}: {failures[0]}")


class py_spy:
    """py-spy sampling the gunicorn master `pid`'s workers for `SECONDS` into the flame graph
    `output` (100 Hz, idle time included); `wait()` for the graph."""

    def __init__(self, pid, output):
        self.output = output
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid), "--subprocesses", "--idle",
             "--nonblocking", "--rate", "100", "--duration", str(SECONDS), "--format", "flamegraph",
             "--output", str(output)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def wait(self):
        _, errors = self.process.communicate()
        if self.process.returncode:
            raise SystemExit(f"py-spy failed: {errors[-2000:]}")
        self.output.write_text(scrub(self.output.read_text()))


def run(server, shapes, args, auth):
    """Profile `shapes` ({name: path}) under load; the graphs' paths relative to the checkout."""
    written = {}
    for name, path in shapes.items():
        base = f"{slug(name)}-N{args.users}"
        python_graph, postgres_graph = PROFILES / f"api-{base}.svg", PROFILES / f"postgresql-{base}.svg"
        log(f"profiling {name}: py-spy on the workers, perf on PostgreSQL, {SECONDS} s")
        with under_load(server.url, path, args.users, auth, args, f"profiling {name}"):
            spy = py_spy(server.process.pid, python_graph)
            try:
                flame.record([], SECONDS, str(postgres_graph),  # every postgres process: parallel workers too
                             f"PostgreSQL during {name}, {args.users:,} users, {args.connections} connections",
                             frequency=99, command="postgres")
            finally:
                spy.wait()
        written[name] = {"python": in_checkout(python_graph), "postgresql": in_checkout(postgres_graph)}
    return written
