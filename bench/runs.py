"""Every `make bench` run is kept beside the others in bench/results/runs/, named by date, commit
and N, so that runs at different N (the scale curve, bench/curve.py) never overwrite each other."""

import json
import os
import platform
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "bench" / "results" / "runs"


def commit():
    """The short commit, `+dirty` when the work tree differs from it (the figures may not be its)."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    short = git("rev-parse", "--short", "HEAD") or "unknown"
    return short + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def machine():
    """What the figures depend on: architecture, cores, RAM, CPU model, Python."""
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"arch": platform.machine(), "cores": os.cpu_count(), "ram_gb": round(ram / 2**30, 1),
            "cpu_model": model, "python": f"{platform.python_implementation()} {platform.python_version()}"}


def describe(machine):
    """One line for the Markdown reports (older runs kept a string)."""
    if isinstance(machine, str):
        return machine
    return (f"{machine['arch']}, {machine['cores']} cores, {machine['ram_gb']} GB RAM, {machine['cpu_model']}, "
            f"{machine['python']}")


def run_name(results):
    """`<UTC date-time>-<short commit>-N<users>.json`: sorts by date, unique per run."""
    stamp = re.sub(r"[-:]", "", results["date"].replace("+00:00", "Z"))
    return f"{stamp}-{results['commit'].replace('+', '-')}-N{results['users']}.json"


def keep(results, folder=RUNS):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / run_name(results)
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path


def load(folder=RUNS):
    """Every kept run, oldest first."""
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]


def newest_per_n(runs):
    """The newest run at each N, by N. Runs without the API part (--only-keycloak, --only-events)
    keep nothing for the curve and are passed over."""
    newest = {}
    for run in runs:
        if not run.get("http"):
            continue
        n = run["users"]
        if n not in newest or run["date"] > newest[n]["date"]:
            newest[n] = run
    return dict(sorted(newest.items()))
