"""The flame graph of PostgreSQL's side of a benchmark: folding `perf script` text and the SVG."""

import xml.etree.ElementTree as ElementTree

from bench import flame

PG = "(/usr/lib/postgresql/15/bin/postgres)"
LIBC = "(/usr/lib/x86_64-linux-gnu/libc.so.6)"
TRGM = "(/usr/lib/postgresql/15/lib/pg_trgm.so)"

# Three samples from two backends (pids 1234 and 1240), leaf frame first as perf prints them.
PERF_SCRIPT = f"""\
postgres  1234 123.456:   5050505 cpu-clock:pppH: 
\t    55d0c0a1b2c3 hash_search_with_hash_value+0x53 {PG}
\t    55d0c0a0ffee ExecScan+0x12 {PG}
\t    55d0c09f1234 PostgresMain+0x9a1 {PG}
\t    7f00abcd1234 __libc_start_main+0x80 {LIBC}

postgres  1240 123.461:   5050505 cpu-clock:pppH: 
\t    7f00abcd0042 [unknown] {TRGM}
\t    55d0c0a0ffee ExecScan+0x12 {PG}
\t    55d0c09f1234 PostgresMain+0x9a1 {PG}
\t    7f00abcd1234 __libc_start_main+0x80 {LIBC}

postgres  1234 123.466:   5050505 cpu-clock:pppH: 
\t    55d0c0a1b2c3 hash_search_with_hash_value+0x7 {PG}
\t    55d0c0a0ffee ExecScan+0x40 {PG}
\t    55d0c09f1234 PostgresMain+0x9a1 {PG}
\t    7f00abcd1234 __libc_start_main+0x80 {LIBC}

"""

SCAN = "postgres;__libc_start_main;PostgresMain;ExecScan"


def test_folding_merges_backends_by_command_and_strips_offsets():
    stacks = flame.fold(PERF_SCRIPT.splitlines(keepends=True))
    assert stacks == {f"{SCAN};hash_search_with_hash_value": 2, f"{SCAN};[pg_trgm.so]": 1}


def test_a_system_wide_recording_keeps_the_command_asked_for():
    other = "python3  999 123.470:   5050505 cpu-clock:pppH: \n\t    7f00abcd1234 builtin_sum+0x1 (/usr/bin/python3)\n\n"
    lines = (PERF_SCRIPT + other).splitlines()
    assert sum(flame.fold(lines).values()) == 4
    assert flame.fold(lines, "postgres") == flame.fold(PERF_SCRIPT.splitlines())


def test_the_svg_names_frames_with_their_counts_and_no_machine_paths(tmp_path):
    output = tmp_path / "flame.svg"
    flame.write_svg(flame.fold(PERF_SCRIPT.splitlines()), output, "search prefix <smi>")
    svg = output.read_text()
    titles = [t.text for t in ElementTree.parse(output).iter("{http://www.w3.org/2000/svg}title")]
    assert "ExecScan (3 samples, 100.00%)" in titles
    assert "hash_search_with_hash_value (2 samples, 66.67%)" in titles
    assert "[pg_trgm.so] (1 samples, 33.33%)" in titles
    assert "search prefix &lt;smi&gt;" in svg and "3 samples" in svg
    assert "/usr/" not in svg and "0x" not in svg


def test_colours_are_warm_and_the_same_for_the_same_function():
    assert flame.colour("ExecScan") == flame.colour("ExecScan")
    red, green, blue = (int(v) for v in flame.colour("PostgresMain")[4:-1].split(","))
    assert red >= 205 and blue <= 55
