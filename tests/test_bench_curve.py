"""The scale curve's bookkeeping: which kept run stands for each N, and the flatness check."""

import json
import subprocess
import sys
import time

import pytest

from bench import cpu, curve, disk, runs


def run(n, date, reference=100.0, lookup=100.0, search=50.0, count_p99=40.0, seeding=10.0, http=True):
    return {
        "date": date, "commit": "abc1234", "users": n, "load_before": [0.1, 0.1, 0.1],
        "seeding": {"seconds": seeding}, "disk": {"bytes_per_user": 1200}, "worker_peak_rss_mb": 80.0,
        "http": {
            curve.REFERENCE: {"rps": reference, "p50_ms": 10.0, "p99_ms": 20.0},
            "lookup by id": {"rps": lookup, "p50_ms": 10.0, "p99_ms": 20.0},
            "search prefix (search=smi)": {"rps": search, "p50_ms": 20.0, "p99_ms": 40.0},
            "count (everyone)": {"rps": 50.0, "p50_ms": 20.0, "p99_ms": count_p99},
        } if http else {},
    }


def test_newest_run_per_n_passes_over_runs_without_the_api_part(tmp_path):
    kept = [run(1000, "2026-11-29T10:00:00+00:00", lookup=1), run(1000, "2026-11-29T12:00:00+00:00", lookup=2),
            run(1000, "2026-11-29T13:00:00+00:00", http=False), run(100, "2026-11-29T11:00:00+00:00", lookup=3)]
    for r in kept:
        runs.keep(r, tmp_path)
    newest = runs.newest_per_n(runs.load(tmp_path))
    assert list(newest) == [100, 1000]
    assert newest[1000]["http"]["lookup by id"]["rps"] == 2
    assert newest[100]["http"]["lookup by id"]["rps"] == 3


def test_runs_at_the_same_minute_and_other_n_keep_their_own_files(tmp_path):
    names = {runs.keep(run(n, "2026-11-29T10:00:00+00:00"), tmp_path).name for n in (100, 1000)}
    assert names == {"20261129T100000Z-abc1234-N100.json", "20261129T100000Z-abc1234-N1000.json"}
    assert json.loads((tmp_path / "20261129T100000Z-abc1234-N100.json").read_text())["users"] == 100


@pytest.mark.parametrize("lookup_10m, passed", [(100.0, True), (80.0, True), (70.0, False), (150.0, True)])
def test_flatness_compares_the_10m_ratio_to_the_reference_with_the_1m_one(lookup_10m, passed):
    # The reference halves at 10M (a busier machine): only the ratio to it counts.
    newest = {1_000_000: run(1_000_000, "a"), 10_000_000: run(10_000_000, "b", reference=50.0,
                                                              lookup=lookup_10m / 2)}
    checks = {what: ok for what, _, ok in curve.flatness(newest)}
    lookup = next(what for what in checks if what.startswith("lookup by id"))
    assert checks[lookup] is passed


def test_flatness_checks_counts_at_every_n_and_seeding_at_10m():
    newest = {1000: run(1000, "a", count_p99=150.0), 10_000_000: run(10_000_000, "b", seeding=700.0)}
    checks = {what: ok for what, _, ok in curve.flatness(newest)}
    assert checks["count (everyone) p99 at 1,000 users ≤ 100 ms"] is False
    assert checks["count (everyone) p99 at 10,000,000 users ≤ 100 ms"] is True
    assert checks["seeding 10,000,000 users ≤ 600 s"] is False
    # Without a 1M run there is nothing to compare the 10M ratios with.
    assert checks["lookup by id: ratio to reference, 1M → 10M (at most 1.3× lower)"] is None


def test_markdown_has_a_column_per_n_and_says_what_was_not_measured():
    text = curve.markdown({1000: run(1000, "2026-11-29T10:00:00+00:00"), 100_000: run(100_000, "x", lookup=50.0)})
    assert "| | 1,000 users | 100,000 users |" in text
    assert "| lookup by id | 1.0× · 10.0 ms | 0.5× · 10.0 ms |" in text
    assert "| bytes per user, Keycloak realm B | – | – |" in text
    assert "| seeding 10,000,000 users ≤ 600 s | 10M run needed | not measured |" in text


def test_a_shape_with_no_answer_says_so():
    silent = run(10_000_000, "2026-11-30T01:00:00+00:00", search=0.0)
    silent["http"]["search prefix (search=smi)"].update(p50_ms=0.0, p99_ms=0.0)
    newest = {1_000_000: run(1_000_000, "2026-11-30T00:00:00+00:00"), 10_000_000: silent}
    assert "| search prefix (search=smi) | 0.5× · 20.0 ms | no answer within wrk's timeout |" in curve.markdown(newest)
    checks = {what: passed for what, _, passed in curve.flatness(newest)}
    assert checks["search prefix (search=smi): ratio to reference, 1M → 10M (at most 1.3× lower)"] is False


def test_the_backend_user_tables_come_from_the_models():
    tables = disk.backend_user_tables()
    assert {"users_user", "users_user_roles", "users_user_identity_groups", "users_userlogin"} <= set(tables)
    assert "users_tenant" not in tables and "users_role" not in tables


def test_cpu_of_a_process_tree_counts_children_that_exited():
    """A shell whose child burned 0.3 CPU-seconds and exited: the child's CPU is now the shell's
    cutime, as PostgreSQL's closed backends' is the postmaster's."""
    burn = "import time\nwhile time.process_time() < 0.3: pass"
    shell = subprocess.Popen(["sh", "-c", f'"{sys.executable}" -c "$0"; read line', burn],
                             stdin=subprocess.PIPE, text=True)
    try:
        started = time.monotonic()
        while not cpu.children(shell.pid) and time.monotonic() - started < 60:
            time.sleep(0.01)
        while cpu.children(shell.pid) and time.monotonic() - started < 600:
            time.sleep(0.05)
        assert not cpu.children(shell.pid)
        assert cpu.tree_seconds(shell.pid) >= 0.25  # counted in clock ticks
    finally:
        shell.communicate("\n", timeout=60)
    assert cpu.tree_seconds(shell.pid) == 0.0  # gone: nothing left to count


def test_the_memory_flame_graph_names_no_path_of_this_machine(tmp_path):
    import sysconfig

    from bench import memory

    capture = tmp_path / "worker.bin"
    text = " ".join([f"{sysconfig.get_paths()['purelib']}/django/db/models/query.py",
                     f"{sysconfig.get_paths()['stdlib']}/json/encoder.py",
                     f"{memory.PROFILES.parents[2]}/users/models.py", str(capture), sys.executable])
    assert memory.scrub(text, capture) == (
        "site-packages/django/db/models/query.py python3.11/json/encoder.py users/models.py worker.bin python")
