"""Reading a `kc.sh export` as streams: which files, the realm's roles and groups, then user by user.

`kc.sh export --dir D --realm R` writes `R-realm.json` and, by `--users`: `different_files`
(`R-users-0.json`, `R-users-1.json`, … of `--users-per-file` users each), `same_file`
(`R-users-0.json`) or `realm_file` (the users inside `R-realm.json`). A users file is
`{"realm": "R", "users": [...]}`. Keycloak 25 and 26 write the same shapes for what is read here.

Files are read as streams, a user at a time, never a file whole. The realm file is parsed with ijson
(its C backend, yajl2_c), once per part (name, roles, groups, users), each pass skipping the rest.
A users file in the shape kc.sh writes is cut into its users by `_users_as_written`, each user parsed
by orjson: a quarter of ijson's cost per user, which was a third of a user's conversion. Whatever
that reader does not take exactly as ijson would (another shape, malformed JSON, a number past 64
bits) hands the rest of the file to ijson, so errors and values are ijson's either way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import ijson
import orjson

# Bytes read at a time to find a file's realm name, which Keycloak writes among its first keys: the
# parser's default (64 KiB) reads a whole 50-user file, twenty thousand times for a million users.
HEAD = 4096
USERS_FILE = re.compile(r"^(?P<realm>.+)-users-(?P<n>\d+)\.json$")
REALM_FILE_SUFFIX = "-realm.json"


class ExportError(Exception):
    """Bad input: the message names the file and, where there is one, the user."""

    def __init__(self, path: Path | None, message: str, user: str | None = None):
        self.path, self.user, self.message = path, user, message
        where = str(path) if path else "export"
        super().__init__(f"{where}: {f'user {user}: ' if user else ''}{message}")


@dataclass
class ExportFiles:
    realm: str
    realm_file: Path
    users_files: list[Path] = field(default_factory=list)

    @property
    def layout(self) -> str:
        if not self.users_files:
            return "realm_file"
        return "same_file" if len(self.users_files) == 1 else "different_files"


def _realm_name(path: Path) -> str:
    """The top-level `realm` of a Keycloak export file; an ExportError for anything else."""
    try:
        with path.open("rb") as handle:
            events = ijson.parse(handle, buf_size=HEAD)
            for prefix, event, value in events:
                if prefix == "" and event not in ("start_map", "map_key", "end_map"):
                    break
                if prefix == "" and event == "map_key" and value == "realm":
                    prefix, event, value = next(events)
                    if event == "string" and value:
                        return value
                    break
    except ijson.JSONError as error:
        raise ExportError(path, f"malformed JSON ({error})") from None
    except OSError as error:
        raise ExportError(path, f"cannot be read ({error.strerror})") from None
    raise ExportError(path, "not a Keycloak export: no top-level \"realm\" name (made by kc.sh export?)")


def locate(path: Path, realm: str | None = None) -> ExportFiles:
    """The files of one realm's export in `path`: a directory written by `kc.sh export --dir`, or a
    realm file (`realm_file` layout; users files beside it are read too)."""
    if path.is_file():
        name = _realm_name(path)
        if realm and realm != name:
            raise ExportError(path, f"is the export of realm {name!r}, not {realm!r}")
        directory, realm_file = path.parent, path
    elif path.is_dir():
        realm_files = sorted(path.glob(f"*{REALM_FILE_SUFFIX}"))
        names = {f.name[: -len(REALM_FILE_SUFFIX)]: f for f in realm_files}
        if realm:
            if realm not in names:
                raise ExportError(path, f"has no {realm}{REALM_FILE_SUFFIX}: not the export of realm {realm!r}")
            name = realm
        elif len(names) == 1:
            name = next(iter(names))
        elif not names:
            raise ExportError(path, f"not a Keycloak export: no <realm>{REALM_FILE_SUFFIX} in it (made by kc.sh export --dir?)")
        else:
            raise ExportError(path, f"holds several realms ({', '.join(sorted(names))}): choose one with --realm")
        directory, realm_file = path, names[name]
        found = _realm_name(realm_file)
        if found != name:
            raise ExportError(realm_file, f"names realm {found!r}, not {name!r}")
    else:
        raise ExportError(path, "no such file or directory")
    users_files = []
    for candidate in directory.glob(f"{name}-users-*.json"):
        match = USERS_FILE.match(candidate.name)
        if match and match["realm"] == name:
            users_files.append((int(match["n"]), candidate))
    users_files = [f for _, f in sorted(users_files)]
    for users_file in users_files:
        found = _realm_name(users_file)
        if found != name:
            raise ExportError(users_file, f"names realm {found!r}, not {name!r}")
    return ExportFiles(name, realm_file, users_files)


def items(path: Path, prefix: str) -> Iterator:
    """The values at `prefix` of one file, one at a time; malformed JSON is an ExportError."""
    try:
        with path.open("rb") as handle:
            yield from ijson.items(handle, prefix, use_float=True)
    except ijson.JSONError as error:
        raise ExportError(path, f"malformed JSON ({error})") from None


def realm_roles(files: ExportFiles) -> list[dict]:
    return [role for role in items(files.realm_file, "roles.realm.item") if isinstance(role, dict)]


def groups(files: ExportFiles) -> list[dict]:
    return [group for group in items(files.realm_file, "groups.item") if isinstance(group, dict)]


def users_in(path: Path) -> Iterator[dict]:
    """The users of one export file (its top-level `users` array), one at a time."""
    done = 0
    try:
        for user in _users_as_written(path):
            yield user
            done += 1
        return
    except _NotAsWritten:
        pass
    for n, user in enumerate(items(path, "users.item")):
        if not isinstance(user, dict):
            raise ExportError(path, "a user is not a JSON object")
        if n >= done:
            yield user


class _NotAsWritten(Exception):
    """The rest of the file is ijson's to read."""


def _tokens(*tokens: bytes) -> re.Pattern:
    """`tokens` with JSON's whitespace (less than regular expressions' \\s) between them."""
    return re.compile(rb"[ \t\n\r]*".join(tokens))


# A users file as kc.sh writes it: {"realm": "R", "users": [{…}, …, {…}]}, any whitespace.
_USERS_START = _tokens(rb"", rb"\{", rb'"realm"', rb":", rb'"(?:[^"\\]|\\.)*"', rb",", rb'"users"', rb":", rb"\[", rb"")
_NEXT_USER = _tokens(rb"\}", rb",", rb"\{")  # a candidate end of a user (or of an object inside one)
_LAST_USER = _tokens(rb"\}", rb"\]", rb"\}", rb"\Z")
_NO_USERS = _tokens(rb"\]", rb"\}", rb"\Z")
_DIGITS = bytes(48 if byte in b"0123456789" else 32 for byte in range(256))  # digits "0", all else " "
LONG_INTEGER = b"0" * 19  # digits: past 64 bits, which orjson reads as a float and ijson refuses
BLOCK = 1 << 20  # bytes read at a time
LARGEST_USER = 8 << 20  # bytes; a user larger (or a candidate end never found) is left to ijson
ATTEMPTS = 64  # candidate ends tried per user


def _users_as_written(path: Path) -> Iterator[dict]:
    """The users of a users file in kc.sh's shape, each cut at a candidate end that orjson reads as
    exactly one object: parsing from a user's true start, only its true end gives one object (an end
    inside a string or a nested object leaves the text unbalanced), so a text that parses is the user.
    Raises `_NotAsWritten` at anything else, having yielded only users ijson yields too."""
    with path.open("rb") as handle:
        buffer = _checked(handle.read(BLOCK))
        start = _USERS_START.match(buffer)
        if start is None:
            raise _NotAsWritten
        buffer, at, search_from, attempts, end_of_file = buffer[start.end():], 0, 0, 0, False
        if buffer[:1] != b"{":
            rest = buffer + handle.read(BLOCK)
            if not _NO_USERS.match(rest):
                raise _NotAsWritten
            return
        while True:
            candidate = _NEXT_USER.search(buffer, search_from)
            if candidate is None:
                if end_of_file:
                    break
                more = handle.read(BLOCK)
                end_of_file = not more
                buffer, search_from, at = _checked(buffer[at:] + more), search_from - at, 0
                if len(buffer) > LARGEST_USER + BLOCK:
                    raise _NotAsWritten
                continue
            end = candidate.start() + 1
            user = _user(buffer, at, end)
            if user is None:  # not this user's end
                attempts += 1
                if attempts > ATTEMPTS or end - at > LARGEST_USER:
                    raise _NotAsWritten
                search_from = end
                continue
            yield user
            at = search_from = candidate.end() - 1
            attempts = 0
        last = _LAST_USER.search(buffer, at)
        user = None if last is None else _user(buffer, at, last.start() + 1)
        if user is None:
            raise _NotAsWritten
        yield user


def _checked(buffer: bytes) -> bytes:
    """`buffer`, unless a number in it may be one orjson and ijson read differently."""
    if LONG_INTEGER in buffer.translate(_DIGITS):
        raise _NotAsWritten
    return buffer


def _user(buffer: bytes, start: int, end: int) -> dict | None:
    try:
        return orjson.loads(memoryview(buffer)[start:end])
    except orjson.JSONDecodeError:
        return None
