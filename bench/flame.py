"""Flame graphs of PostgreSQL backends from Linux `perf`: PostgreSQL's side of a benchmark miss.

py-spy and async-profiler see the Python workers and Keycloak's JVM, but not where a PostgreSQL
backend spends its CPU (planning, an index scan, pg_trgm, a sort). This samples the backends with
`perf`, folds the stacks (`comm;root;...;leaf count`) and writes a self-contained SVG flame graph,
small enough to commit next to a benchmark result. Needs root (or perf_event_paranoid <= 1).

    python -m bench.flame record --pid PID [--pid PID ...] --seconds 30 --output pg.svg --title "..."
    python -m bench.flame record --command postgres --seconds 30 --output pg.svg   # every CPU
    python -m bench.flame svg --title "..." samples.perf-script pg.svg   # from `perf script` text

Call graphs are unwound with DWARF (`--call-graph dwarf`), not frame pointers (`-g`): on Debian's
PostgreSQL 15 and perf 6.1, a sort of md5() values unwound to `_start` in 98% of the samples with
DWARF but 76% with `-g`, whose other samples stopped after one or two frames (libcrypto, libc). DWARF
copies 8 KB of stack per sample (about 1.6 MB/s at 199 Hz), so keep the frequency modest.
Stacks still stop in JIT-compiled code (`[perf-PID.map]` at the root): profile with `SET jit = off`
for whole stacks. Static functions show as `[postgres]` unless postgresql-NN-dbgsym is installed.
"""

import argparse
import collections
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from html import escape

FREQUENCY = 199
WIDTH, FRAME_HEIGHT, FONT_SIZE, PAD, TOP = 1200, 16, 12, 10, 50
CHAR_WIDTH = 0.6 * FONT_SIZE  # a monospace glyph, to truncate labels without measuring text
MIN_SHARE = 0.001  # frames narrower than 0.1% of the samples are dropped

# `postgres  1234 123.456:   5050505 cpu-clock:pppH: ` (or `1234/1235`, maybe a `[003]` CPU column)
HEADER = re.compile(r"^(\S.*?)\s+\d+(?:/\d+)?\s+(?:\[\d+\]\s+)?\d+\.\d+:")
# `\t    7f00abcd func+0x12 (/usr/lib/postgresql/15/bin/postgres)`
FRAME = re.compile(r"^\s+[0-9a-fA-F]+\s+(.*?)\s+\((.*)\)\s*$")
OFFSET = re.compile(r"\+0x[0-9a-fA-F]+$")


def log(message):
    print(f"[flame] {message}", file=sys.stderr, flush=True)


def frame_name(symbol, module):
    """`func+0x12` -> `func`; an unknown symbol -> `[basename of its module]`."""
    symbol = OFFSET.sub("", symbol.strip())
    if not symbol or symbol.startswith("[unknown]"):
        base = os.path.basename(module.rstrip("/")) or "unknown"
        return base if base.startswith("[") else f"[{base}]"
    if symbol.startswith("/"):
        symbol = os.path.basename(symbol)
    return symbol.replace(";", ":")  # `;` separates frames in the folded form


def fold(lines, command=None):
    """`perf script` text (lines, leaf frame first) -> Counter of `comm;root;...;leaf` -> samples.
    Processes are merged by command name, so every backend counts as `postgres`; with `command`,
    the samples of other commands are left out (a system-wide recording)."""
    stacks = collections.Counter()
    comm, frames = None, []

    def finish():
        if comm is not None and command in (None, comm):  # a sample without a call chain counts
            stacks[";".join([comm, *reversed(frames)])] += 1    # under its command alone

    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            finish()
            comm, frames = None, []
        elif line[0].isspace():
            match = FRAME.match(line)
            if comm is not None and match:
                frames.append(frame_name(*match.groups()))
        else:
            finish()
            match = HEADER.match(line)
            comm, frames = (match.group(1) if match else line.split()[0]).strip().replace(";", ":"), []
    finish()
    return stacks


def tree(stacks):
    """Folded stacks -> nested `[samples, {child name: node}]`, rooted at `all`."""
    root = [0, {}]
    for stack, count in stacks.items():
        node = root
        node[0] += count
        for name in stack.split(";"):
            node = node[1].setdefault(name, [0, {}])
            node[0] += count
    return root


def colour(name):
    """A warm colour from the function name: the same function is the same colour in every graph."""
    digest = hashlib.md5(name.encode()).digest()
    return f"rgb({205 + digest[0] * 50 // 255},{digest[1] * 230 // 255},{digest[2] * 55 // 255})"


def render(stacks, title):
    """The flame graph of folded `stacks` as SVG text: root at the bottom, one row per depth."""
    root = tree(stacks)
    total = root[0]
    scale = (WIDTH - 2 * PAD) / max(total, 1)
    frames = []  # (name, samples, x, depth)

    def place(name, node, x, depth):
        if total == 0 or node[0] < total * MIN_SHARE:
            return
        frames.append((name, node[0], x, depth))
        for child_name in sorted(node[1]):
            child = node[1][child_name]
            place(child_name, child, x, depth + 1)
            x += child[0] * scale

    place("all", root, PAD, 0)
    depth = max((f[3] for f in frames), default=0) + 1
    height = TOP + depth * FRAME_HEIGHT + PAD
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="monospace" font-size="{FONT_SIZE}">',
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#fdf6e8"/>',
        f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-size="16">{escape(title)}</text>',
        f'<text x="{WIDTH / 2}" y="38" text-anchor="middle" fill="#555">{total:,} samples '
        f"(hover a frame for its count)</text>",
    ]
    for name, count, x, level in frames:
        width = count * scale
        y = height - PAD - (level + 1) * FRAME_HEIGHT
        label = f"{name} ({count:,} samples, {100 * count / total:.2f}%)"
        fits = int((width - 6) // CHAR_WIDTH)
        text = name if len(name) <= fits else (name[: fits - 2] + ".." if fits >= 3 else "")
        out.append(f"<g><title>{escape(label)}</title>"
                   f'<rect x="{x:.2f}" y="{y}" width="{width:.2f}" height="{FRAME_HEIGHT - 1}" '
                   f'fill="{colour(name)}" rx="2"/>'
                   + (f'<text x="{x + 3:.2f}" y="{y + FRAME_HEIGHT - 4}">{escape(text)}</text>' if text else "")
                   + "</g>")
    out.append("</svg>\n")
    return "\n".join(out)


def write_svg(stacks, output, title):
    with open(output, "w", encoding="utf-8") as file:
        file.write(render(stacks, title))
    log(f"wrote {output}: {sum(stacks.values()):,} samples, {len(stacks):,} distinct stacks")


def record(pids, seconds, output, title, frequency=FREQUENCY, command=None):
    """Sample `pids` (no pids: every CPU, keeping the samples of `command`) for `seconds` with
    perf, then write the flame graph SVG to `output`. System-wide is how PostgreSQL's parallel
    workers are seen: they start with each query, after any list of pids was taken."""
    pids = [str(int(pid)) for pid in pids]
    target = ["-p", ",".join(pids)] if pids else ["-a"]
    folder = tempfile.mkdtemp(prefix="flame-")  # perf renames an existing output to .old: own folder
    data = os.path.join(folder, "perf.data")
    try:
        log(f"recording {'pid ' + ','.join(pids) if pids else 'every CPU'} for {seconds} s at {frequency} Hz "
            "(dwarf call graphs)")
        subprocess.run(["perf", "record", "-F", str(frequency), "--call-graph", "dwarf", *target,
                        "-o", data, "--", "sleep", str(seconds)],
                       check=True, stdout=sys.stderr)
        log("unwinding and folding stacks (perf script)")
        with subprocess.Popen(["perf", "script", "-i", data], stdout=subprocess.PIPE,
                              text=True, errors="replace") as script:
            stacks = fold(script.stdout, command)
        if script.returncode:
            raise subprocess.CalledProcessError(script.returncode, script.args)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if not stacks:
        log("no samples: were the processes busy?")
    write_svg(stacks, output, title)
    return stacks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="action", required=True)
    rec = commands.add_parser("record", help="sample running processes with perf")
    rec.add_argument("--pid", type=int, action="append", default=[],
                     help="repeat for several; none: every CPU, see --command")
    rec.add_argument("--command", help="keep only the samples of this command (e.g. postgres)")
    rec.add_argument("--seconds", type=float, required=True)
    rec.add_argument("--output", required=True, help="the SVG to write")
    rec.add_argument("--title", default="PostgreSQL CPU")
    rec.add_argument("--frequency", type=int, default=FREQUENCY, help="samples per second")
    svg = commands.add_parser("svg", help="fold a `perf script` text dump into an SVG")
    svg.add_argument("--title", default="PostgreSQL CPU")
    svg.add_argument("input")
    svg.add_argument("output")
    args = parser.parse_args(argv)
    if args.action == "record":
        seconds = int(args.seconds) if args.seconds == int(args.seconds) else args.seconds
        record(args.pid, seconds, args.output, args.title, args.frequency, args.command)
    else:
        with open(args.input, encoding="utf-8", errors="replace") as file:
            write_svg(fold(file), args.output, args.title)


if __name__ == "__main__":
    main()
