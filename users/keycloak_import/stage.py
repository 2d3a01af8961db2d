"""An export's users as `COPY` text for the staging tables, a chunk of users at a time.

Reading and converting a user costs the importing process far more than PostgreSQL's share, so an
export of several files (`different_files`) is converted by worker processes, one file at a time
each, forked after Django is set up; they never touch the database. The importing process takes
their chunks in file order (worker w converts files w, w + n, …, each into a queue of its own that
holds up to `QUEUED` chunks, so memory stays bounded whatever the export's size) and copies them on
its own connection, inside the import's one transaction: the workers change nothing of the
all-or-nothing.
The same generator runs in-process for a single file or `workers=1`, so both paths give the same
chunks in the same order.
"""

from __future__ import annotations

import gc
import multiprocessing
import queue
import re
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import export
from .convert import CredentialError, Problem, Skipped, UserRow, convert

CHUNK = 5000  # users
# Chunks waiting per worker: more than a 50,000-user file's ten, so that a worker whose file the
# command is not reading yet goes on converting (with 4, each waited 2-4 s of a 35 s read).
QUEUED = 12

_ESCAPE = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})
_SPECIAL = re.compile(r"[\\\n\r\t]").search  # rare: translating only then is five times cheaper


def _text(value: str | None) -> str:
    if value is None:
        return "\\N"
    return value.translate(_ESCAPE) if _SPECIAL(value) else value


def _user_line(row: UserRow) -> str:
    """`COPY … FROM STDIN` text of `load.USER_COLUMNS`."""
    if _SPECIAL(f"{row.username}{row.email}{row.phone_number}{row.first_name}{row.last_name}{row.attributes}"
                f"{row.required_actions}{row.password}"):
        username, email, phone, first_name, last_name, attributes, actions, password = (
            _text(v) for v in (row.username, row.email, row.phone_number, row.first_name, row.last_name,
                               row.attributes, row.required_actions, row.password))
    else:  # as nearly always: nothing to escape, checked once rather than a field at a time
        username, first_name, last_name, attributes, actions = (
            row.username, row.first_name, row.last_name, row.attributes, row.required_actions)
        email = "\\N" if row.email is None else row.email
        phone = "\\N" if row.phone_number is None else row.phone_number
        password = "\\N" if row.password is None else row.password
    return "\t".join((
        row.id, username, email, "t" if row.email_verified else "f", phone, "t" if row.phone_verified else "f",
        first_name, last_name, "t" if row.is_active else "f", "\\N" if row.created_ms is None else str(row.created_ms),
        attributes, actions, password)) + "\n"


@dataclass
class Chunk:
    users: bytes = b""
    roles: bytes = b""  # user_id, name
    groups: bytes = b""  # user_id, path
    read: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    kept: Counter = field(default_factory=Counter)


def file_chunks(path: Path, realm_defaults: set[str]) -> Iterator[Chunk]:
    """The users of one file, converted, `CHUNK` at a time; bad input is an `ExportError` naming the
    user (or, for broken JSON, the last user read before it)."""
    users, roles, groups, chunk = [], [], [], Chunk()
    last = None
    try:
        for user in export.users_in(path):
            last = str(user.get("id") or user.get("username") or "?")
            try:
                result = convert(user, realm_defaults)
            except CredentialError as error:
                raise export.ExportError(path, str(error), user=f"{last} ({user.get('username')})") from None
            chunk.read += 1
            if isinstance(result, Skipped):
                chunk.skipped.append(result)
            elif isinstance(result, Problem):
                chunk.problems.append(result)
            else:
                users.append(_user_line(result))
                if result.kept:
                    chunk.kept.update(result.kept)
                if result.roles:
                    roles.extend(f"{result.id}\t{_text(name)}\n" for name in result.roles)
                if result.groups:
                    groups.extend(f"{result.id}\t{_text(name)}\n" for name in result.groups)
            if chunk.read >= CHUNK:
                yield _done(chunk, users, roles, groups)
                users, roles, groups, chunk = [], [], [], Chunk()
    except export.ExportError as error:
        if error.user is None and last is not None and error.path == path:
            raise export.ExportError(path, error.message, user=f"after {last}") from None
        raise
    if chunk.read:
        yield _done(chunk, users, roles, groups)


def _done(chunk: Chunk, users: list[str], roles: list[str], groups: list[str]) -> Chunk:
    chunk.users, chunk.roles, chunk.groups = ("".join(lines).encode() for lines in (users, roles, groups))
    return chunk


def chunks(paths: list[Path], realm_defaults: set[str], workers: int) -> Iterator[Chunk]:
    """Every file's chunks, in file order; in `workers` processes when there are files enough."""
    workers = min(workers, len(paths))
    if workers <= 1:
        for path in paths:
            yield from file_chunks(path, realm_defaults)
        return
    context = multiprocessing.get_context("fork")
    queues = [context.Queue(QUEUED) for _ in range(workers)]
    processes = [context.Process(target=_work, args=(paths[w::workers], realm_defaults, queues[w]), daemon=True)
                 for w in range(workers)]
    for process in processes:
        process.start()
    try:
        for n, _ in enumerate(paths):
            source, process = queues[n % workers], processes[n % workers]
            while (item := _next(source, process)) is not None:
                if isinstance(item, tuple):
                    kind, *details = item
                    if kind == "bad input":
                        raise export.ExportError(*details)
                    raise RuntimeError(f"a worker converting the export failed:\n{details[0]}")
                yield item
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()


def _next(source, process):
    while True:
        try:
            return source.get(timeout=1)
        except queue.Empty:
            if not process.is_alive():
                raise RuntimeError(f"a worker converting the export stopped (exit code {process.exitcode})") from None


def _work(paths: list[Path], realm_defaults: set[str], sink):
    """A worker's loop: its files' chunks, then None after each file; bad input ends it with a tuple
    (an `ExportError` does not survive pickling: its message is rebuilt from its parts)."""
    gc.freeze()  # what the fork inherited (Django, the app) is not scanned by each full collection
    try:
        for path in paths:
            for chunk in file_chunks(path, realm_defaults):
                sink.put(chunk)
            sink.put(None)
    except export.ExportError as error:
        sink.put(("bad input", error.path, error.message, error.user))
    except BaseException:  # noqa: BLE001 — told to the importing process, which stops the run
        sink.put(("crash", traceback.format_exc()))
