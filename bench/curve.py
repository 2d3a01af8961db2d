"""The scale curve: the newest kept run at each N (bench/results/runs/), side by side.

`python -m bench.curve` (and the end of every `make bench`) writes bench/results/curve.md, a table
with a column per N and the flatness check, and draws bench/results/curve.png. Throughput is read
as a ratio to the reference view of the same run, which the machine's load moves alike.
"""

import argparse
from pathlib import Path

from bench import runs

RESULTS = Path(__file__).resolve().parent / "results"
REFERENCE = "reference (bare DRF, no auth)"
COUNT_P99_LIMIT_MS = 100
SEEDING_10M_LIMIT_S = 600
FLAT = 1.3  # the 10M ratio to the reference may be at most this many times below the 1M one


def kind(name):
    if name == REFERENCE:
        return "reference"
    if name.startswith("count"):
        return "count"
    return "lookup" if name.startswith("lookup") else "search"


def ratio(run, name):
    reference = run["http"][REFERENCE]["rps"]
    row = run["http"].get(name)
    return round(row["rps"] / reference, 2) if row and reference else None


def flatness(newest):
    """Each check as (what, figure, passed): passed is None where a run it needs is missing."""
    checks = []
    small, large = newest.get(1_000_000), newest.get(10_000_000)
    names = [name for run in newest.values() for name in run["http"]]
    for name in dict.fromkeys(names):
        if kind(name) in ("lookup", "search"):
            if small and large and ratio(small, name) and ratio(large, name) is not None:
                figure, passed = (f"{ratio(small, name)} → {ratio(large, name)}",
                                  ratio(large, name) * FLAT >= ratio(small, name))
            else:
                figure, passed = "1M and 10M runs needed", None
            checks.append((f"{name}: ratio to reference, 1M → 10M (at most {FLAT}× lower)", figure, passed))
    for n, run in newest.items():
        for name, row in run["http"].items():
            if kind(name) == "count":
                checks.append((f"{name} p99 at {n:,} users ≤ {COUNT_P99_LIMIT_MS} ms", f"{row['p99_ms']} ms",
                               row["p99_ms"] <= COUNT_P99_LIMIT_MS))
    seconds = large["seeding"]["seconds"] if large else None
    checks.append((f"seeding 10,000,000 users ≤ {SEEDING_10M_LIMIT_S} s",
                   f"{seconds} s" if large else "10M run needed",
                   seconds <= SEEDING_10M_LIMIT_S if large else None))
    return checks


def cells(newest, value):
    return " | ".join(value(run) for run in newest.values())


def markdown(newest):
    ns = list(newest)
    lines = ["# Scale curve", "", "The newest kept run at each N (`bench/results/runs/`). API rows: throughput as a "
             "ratio to the reference view of the same run · p50.", "",
             "| | " + " | ".join(f"{n:,} users" for n in ns) + " |", "|---|" + "---:|" * len(ns),
             f"| run | {cells(newest, lambda r: r['date'][:16] + ' · ' + str(r.get('commit', '?')))} |",
             f"| load average before | {cells(newest, lambda r: str(r.get('load_before', '?')))} |"]
    names = dict.fromkeys(name for run in newest.values() for name in run["http"])
    for name in names:
        def api(run, name=name):
            row = run["http"].get(name)
            if not row:
                return "–"
            if not row["rps"]:
                return "no answer within wrk's timeout"
            return (f"{row['p99_ms']} ms p99" if kind(name) == "count" else f"{ratio(run, name)}×") + \
                f" · {row['p50_ms']} ms"
        lines.append(f"| {name} | {cells(newest, api)} |")

    def get(*path, suffix=""):
        def value(run):
            for key in path:
                run = run.get(key) if isinstance(run, dict) else None
            return "–" if run is None else (f"{run:,}" if isinstance(run, int) else str(run)) + suffix
        return value
    lines += [f"| seeding | {cells(newest, get('seeding', 'seconds', suffix=' s'))} |",
              f"| seeding, PostgreSQL's CPU | {cells(newest, get('seeding', 'postgresql_cpu_seconds', suffix=' s'))} |",
              f"| bytes per user, backend | {cells(newest, get('disk', 'bytes_per_user'))} |",
              f"| bytes per user, Keycloak realm B | {cells(newest, get('keycloak', 'disk', 'bytes_per_user'))} |",
              f"| worker peak RSS | {cells(newest, get('worker_peak_rss_mb', suffix=' MB'))} |"]
    labels = dict.fromkeys(label for run in newest.values()
                           for label in run.get("keycloak", {}).get("cpu_per_login", {}))
    for label in labels:
        lines.append(f"| CPU per login, {label} | "
                     f"{cells(newest, get('keycloak', 'cpu_per_login', label, 'total_ms', suffix=' ms'))} |")
    lines += ["", "## Flatness", "", "| check | figure | |", "|---|---|---|"]
    for what, figure, passed in flatness(newest):
        verdict = "not measured" if passed is None else "ok" if passed else "**missed**"
        lines.append(f"| {what} | {figure} | {verdict} |")
    return "\n".join(lines) + "\n"


def draw(newest, path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    ns = list(newest)
    figure, axes = pyplot.subplots(2, 2, figsize=(15, 11), layout="constrained")
    (throughput, latency), (counts, seeding) = axes
    names = dict.fromkeys(name for run in newest.values() for name in run["http"])
    shapes = [name for name in names if kind(name) in ("lookup", "search")]
    colours = pyplot.get_cmap("tab20").colors
    for index, name in enumerate(shapes):
        at = [n for n in ns if name in newest[n]["http"]]
        style = {"color": colours[index % len(colours)], "marker": "o" if kind(name) == "lookup" else "s",
                 "linestyle": "-" if kind(name) == "lookup" else "--", "markersize": 4, "label": name}
        throughput.plot(at, [ratio(newest[n], name) for n in at], **style)
        # A shape that had no answer has no p50 (wrk reports 0): a gap, not a point at 0 ms.
        latency.plot(at, [newest[n]["http"][name]["p50_ms"] if newest[n]["http"][name]["rps"] else float("nan")
                          for n in at], **style)
    at = [n for n in ns if REFERENCE in newest[n]["http"]]
    latency.plot(at, [newest[n]["http"][REFERENCE]["p50_ms"] for n in at], "k-", linewidth=2, label=REFERENCE)
    throughput.axhline(1, color="black", linewidth=1)
    throughput.set(title="Throughput / reference view's (same run)", ylabel="ratio")
    latency.set(title="p50 at 8 connections", ylabel="ms")
    latency.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    for name in names:
        if kind(name) == "count":
            at = [n for n in ns if name in newest[n]["http"]]
            counts.plot(at, [newest[n]["http"][name]["p99_ms"] for n in at], "-o", label=name)
    counts.axhline(COUNT_P99_LIMIT_MS, color="red", linestyle=":", label=f"limit {COUNT_P99_LIMIT_MS} ms")
    counts.set(title="Counts: p99 against their limit", ylabel="ms")
    counts.legend(fontsize=8)
    seeding.plot(ns, [newest[n]["seeding"]["seconds"] for n in ns], "-o", label="seeding, indexes included")
    seeding.plot([10_000_000], [SEEDING_10M_LIMIT_S], "rv", label=f"limit at 10M: {SEEDING_10M_LIMIT_S} s")
    seeding.set(title="Seeding time", ylabel="s")
    seeding.legend(fontsize=8)
    for axis in axes.flat:
        axis.set_xscale("log")
        axis.set_xlabel("users (N)")
        axis.grid(True, which="both", alpha=0.3)
    figure.suptitle("Scale curve: newest kept run per N")
    figure.savefig(path, dpi=90)
    pyplot.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=runs.RUNS, help="folder of kept runs")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for curve.md and curve.png")
    args = parser.parse_args(argv)
    newest = runs.newest_per_n(runs.load(args.runs))
    if not newest:
        raise SystemExit(f"no kept run with an API part in {args.runs}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "curve.md").write_text(markdown(newest))
    draw(newest, args.out / "curve.png")
    print(markdown(newest))


if __name__ == "__main__":
    main()
