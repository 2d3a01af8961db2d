"""Flame graphs of the API shapes that miss their targets, written by every `make bench`.

After the measurements (so that no figure carries a profiler's cost), each shape of `PROFILED` is
loaded again with wrk at the run's concurrency for `SECONDS`, while py-spy samples the gunicorn
workers (Python: where a request's time goes, waiting on PostgreSQL included) and `perf` samples
PostgreSQL's processes, backends and parallel workers (bench/flame.py: what it does with that time). Both
graphs go to bench/results/profiles/, named by shape and N, next to the run they explain.
"""

import re
import subprocess
import sys
import threading
from pathlib import Path

from bench import flame
from bench.load import log, wrk
from bench.memory import PROFILES, in_checkout, scrub

# The shapes that did not stay flat from 1M to 10M users or over their limit (bench/curve.py), and
# a SCIM lookup, the lookup whose p99 is furthest above the reference's.
PROFILED = ("search prefix (search=smi)", "search substring, rare (*uaintrel*)", "count (search=smi)",
            "lookup by userName, SCIM")
SECONDS = 15


def slug(name):
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def run(server, shapes, args, auth):
    """Profile `shapes` ({name: path}) under load; the graphs' paths relative to the checkout."""
    written = {}
    for name, path in shapes.items():
        base = f"{slug(name)}-N{args.users}"
        python_graph, postgres_graph = PROFILES / f"api-{base}.svg", PROFILES / f"postgresql-{base}.svg"
        log(f"profiling {name}: py-spy on the workers, perf on PostgreSQL, {SECONDS} s")
        failures = []

        def loading():
            try:
                wrk(server.url, path, args.users, auth, SECONDS + 4, args.connections,
                    min(args.threads, args.connections))
            except Exception as error:  # raised below: a graph of idle workers would explain nothing
                failures.append(error)

        load = threading.Thread(target=loading)
        load.start()
        spy = subprocess.Popen(
            [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(server.process.pid),
             "--subprocesses", "--idle", "--nonblocking", "--rate", "100", "--duration", str(SECONDS),
             "--format", "flamegraph", "--output", str(python_graph)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            flame.record([], SECONDS, str(postgres_graph),  # every postgres process: parallel workers too
                         f"PostgreSQL during {name}, {args.users:,} users, {args.connections} connections",
                         frequency=99, command="postgres")
        finally:
            _, errors = spy.communicate()
            load.join()
        if failures:
            raise SystemExit(f"wrk failed while profiling {name}: {failures[0]}")
        if spy.returncode:
            raise SystemExit(f"py-spy failed: {errors[-2000:]}")
        python_graph.write_text(scrub(python_graph.read_text()))
        written[name] = {"python": in_checkout(python_graph), "postgresql": in_checkout(postgres_graph)}
    return written
