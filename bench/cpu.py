"""CPU-seconds spent by process trees, from /proc/<pid>/stat: what one request costs end to end
across Keycloak, the backend and PostgreSQL, which latency on a shared machine does not say."""

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def children(pid):
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def tree_seconds(pid):
    """utime + stime of `pid` and its live descendants, plus cutime + cstime: the CPU of the
    descendants that exited and were waited for (PostgreSQL's backends, Keycloak's launcher)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    own = sum(int(value) for value in fields[11:15]) / TICK
    return own + sum(tree_seconds(child) for child in children(pid))


def postmaster_pid():
    """The PostgreSQL server behind Django's connection: the parent of its backend."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    for line in Path(f"/proc/{backend}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    raise RuntimeError("no parent process for PostgreSQL's backend")


class Counters:
    """CPU of named process trees from now until `per_request`."""

    def __init__(self, pids):
        self.pids = {name: pid for name, pid in pids.items() if pid}
        self.before = {name: tree_seconds(pid) for name, pid in self.pids.items()}

    def per_request(self, requests):
        spent = {name: tree_seconds(pid) - self.before[name] for name, pid in self.pids.items()}
        out = {f"{name}_ms": round(1000 * seconds / requests, 1) for name, seconds in spent.items()}
        out["total_ms"] = round(1000 * sum(spent.values()) / requests, 1)
        out["requests"] = requests
        return out
