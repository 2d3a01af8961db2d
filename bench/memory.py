"""What a worker's memory holds: the modules it imports, then one request of every API shape.

`make bench` runs this on the seeded database twice: alone, for the process's RSS after each step
(one JSON line), and under memray, for the flame graph of the allocations live at the peak, which
goes to bench/results/profiles/. The steps show that a worker's size is its imports (Django, DRF,
the admin, pydantic under SCIM), which do not grow with the number of users."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

PROFILES = Path(__file__).resolve().parent / "results" / "profiles"
STEPS = []


def profile(users):
    """main() twice: alone for its RSS steps, then under memray (which adds its own memory) for the
    flame graph in profiles/."""
    PROFILES.mkdir(parents=True, exist_ok=True)
    graph = PROFILES / f"worker-memory-N{users}.html"
    with tempfile.TemporaryDirectory() as scratch:
        capture = Path(scratch) / "worker.bin"
        plain = _run([sys.executable, "-m", "bench.memory", str(users)])
        _run([sys.executable, "-m", "memray", "run", "--quiet", "--output", str(capture), "-m", "bench.memory",
              str(users)])
        _run([sys.executable, "-m", "memray", "flamegraph", "--force", "--output", str(graph), str(capture)])
        graph.write_text(scrub(graph.read_text(), capture))
    return {**json.loads(plain.strip().splitlines()[-1]), "flame_graph": in_checkout(graph)}


def in_checkout(path):
    """A profile's path as results name it: relative to the checkout."""
    return str(path.relative_to(PROFILES.parents[2]))


def scrub(text, capture=None):
    """A flame graph without this machine's paths: files relative to the checkout, the
    interpreter's and the virtualenv's libraries by their last directory."""
    import sysconfig

    names = [(str(capture), capture.name)] if capture else []
    for path, name in (*names, (sysconfig.get_paths()["purelib"], "site-packages"),
                       (sysconfig.get_paths()["stdlib"], Path(sysconfig.get_paths()["stdlib"]).name),
                       (sys.executable, "python"), (str(PROFILES.parents[2]) + "/", "")):
        text = text.replace(path, name)
    return text


def _run(command):
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode:
        raise SystemExit(f"{' '.join(command[1:4])} failed:\n{run.stderr[-3000:]}")
    return run.stdout


def status_mb(pid, field):
    """A memory line of /proc/<pid>/status (VmRSS, VmHWM…) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)


def step(name):
    STEPS.append([name, status_mb("self", "VmRSS")])


def main():
    step("python")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key")
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    import django

    django.setup()
    step("django.setup() (settings, apps, models, admin)")
    from django.urls import get_resolver

    get_resolver().url_patterns  # what a worker's first request imports
    step("URL configuration (views, serializers, SCIM)")

    from django.test import Client

    from bench.run import LOOKUPS, SEARCHES, deep_cursor
    from bench.seed import TENANT, fill
    from users import services
    from users.models import ApiClient, Tenant

    tenant = Tenant.objects.get(slug=TENANT)
    client_row, token = services.create_api_client(tenant, "bench-memory", sorted(services.KNOWN_SCOPES))
    try:
        users = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
        cursor = deep_cursor(users)
        client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
        for path in {**LOOKUPS, **SEARCHES}.values():
            response = client.get(fill(path, users // 2 + 1).replace("{cursor}", cursor))
            if response.status_code != 200:
                raise SystemExit(f"{path}: {response.status_code} {response.content[:200]!r}")
        step("one request of every API shape")
    finally:
        ApiClient.objects.filter(pk=client_row.pk).delete()
    print(json.dumps({"rss_mb": STEPS}))


if __name__ == "__main__":
    main()
