"""wrk at a fixed concurrency, median of repeated runs: shared by every benchmark step."""

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

LUA = Path(__file__).resolve().parent / "wrk" / "request.lua"


def log(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def wrk(url, path, users, auth, seconds, connections, threads, body=None):
    return run_wrk(url, LUA, {"BENCH_PATH": path, "BENCH_N": str(users), "BENCH_AUTH": auth or "",
                              "BENCH_BODY": body or ""}, seconds, connections, threads)


def run_wrk(url, script, env, seconds, connections, threads):
    """`script` under wrk with `env` added; the JSON line its `done` prints."""
    out = subprocess.run(
        ["wrk", "--threads", str(threads), "--connections", str(connections), "--duration", f"{seconds}s",
         "--timeout", "10s", "--script", str(script), url],
        env={**os.environ, **env}, capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure(url, name, path, args, auth, users=None, body=None, connections=None, runs=None):
    """A 2 s warm-up, then `runs` (default `args.runs`) runs of `args.duration` s at `connections`
    (default `args.connections`); medians of rps, p50 and p99."""
    users = users or args.users
    connections = connections or args.connections
    threads = min(args.threads, connections)
    warmup = wrk(url, path, users, auth, 2, connections, threads, body)
    runs = [wrk(url, path, users, auth, args.duration, connections, threads, body)
            for _ in range(runs or args.runs)]
    result = {
        "path": path,
        "rps": round(statistics.median(r["rps"] for r in runs), 1),
        "p50_ms": round(statistics.median(r["p50_us"] for r in runs) / 1000, 2),
        "p99_ms": round(statistics.median(r["p99_us"] for r in runs) / 1000, 2),
        "errors": sum(r["errors"] for r in runs),
        "requests": sum(r["requests"] for r in runs) + warmup["requests"],  # warm-up included, as CPU counters are
    }
    log(f"{name:<40} {result['rps']:>8,.0f} req/s  p50 {result['p50_ms']:>6.2f} ms  p99 {result['p99_ms']:>6.2f} ms"
        + (f"  ERRORS {result['errors']}" if result["errors"] else ""))
    return result
