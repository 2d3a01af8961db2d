"""Make the Keycloak test data once, with real Keycloaks (the pinned one through the suite's runner,
and Keycloak 25 as it ships).

    python -m tests.data.make_keycloak_export                 # the pinned Keycloak's part
    python -m tests.data.make_keycloak_export --keycloak-25   # Keycloak 25's part, Argon2 variants included
    python -m tests.data.make_keycloak_export --vectors       # keycloak_hash_vectors.json again, from the export

It writes, beside this file:

- `keycloak_export/` — `kc.sh export` of a realm `legacy` in the three layouts (`different_files`
  with two users a file, `same_file`, `realm_file`): realm roles (one composite), a nested group tree
  whose top group carries a realm role, a confidential client with a service account, users whose
  passwords Keycloak hashed with each algorithm (the realm's `hashAlgorithm` policy switched between
  them), a non-ASCII password, attributes, a phone number, required actions, a disabled user;
- `keycloak_hash_vectors.json` — every password credential of that export, with its password;
- `keycloak25_export/` — Keycloak 25's `different_files` export of a smaller `legacy` realm;
- `keycloak25_hash_vectors.json` — its password credentials, and those of two more Keycloak 25
  starts whose Argon2 is configured otherwise (8 MiB, parallelism 2 and a 64-byte hash; 4 MiB and
  3 passes): Argon2's costs are server options, not realm policy (`--argon2-variants` redoes only
  these). Keycloak 25.0.6 ignored the `type` option given with them: their credentials say
  `argon2id`, as every one here does.

Nothing here is faked: the hashes are what Keycloak stored, read back through its own export. Only
the realm files' generated key pairs are blanked (`scrub`), as nothing reads them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from keycloak_bridge.dev.keycloak_runner import (
    KeycloakServer, fetch_distribution, keycloak_version, start_keycloak, wait_until_ready)
from keycloak_bridge.dev.processes import free_port
from keycloak_bridge.dev.realm import AdminClient

HERE = Path(__file__).resolve().parent
EXPORT_DIR = HERE / "keycloak_export"
EXPORT_25_DIR = HERE / "keycloak25_export"
VECTORS = HERE / "keycloak_hash_vectors.json"
VECTORS_25 = HERE / "keycloak25_hash_vectors.json"
REALM = "legacy"
ASCII_PASSWORD = "correct horse battery staple"
UNICODE_PASSWORD = "pässwörd-ñ✓"

# (username, password policy, password, extra representation fields)
LEGACY_USERS = [
    ("argon2-ascii", "", ASCII_PASSWORD, {}),
    ("argon2-unicode", "", UNICODE_PASSWORD, {}),
    ("argon2-t3", "hashAlgorithm(argon2) and hashIterations(3)", ASCII_PASSWORD, {}),
    ("sha512-ascii", "hashAlgorithm(pbkdf2-sha512)", ASCII_PASSWORD, {}),
    ("sha512-unicode", "hashAlgorithm(pbkdf2-sha512)", UNICODE_PASSWORD, {}),
    ("sha256-ascii", "hashAlgorithm(pbkdf2-sha256)", ASCII_PASSWORD, {}),
    ("sha256-unicode", "hashAlgorithm(pbkdf2-sha256)", UNICODE_PASSWORD, {}),
    ("sha1-ascii", "hashAlgorithm(pbkdf2)", ASCII_PASSWORD, {}),
    ("sha1-unicode", "hashAlgorithm(pbkdf2)", UNICODE_PASSWORD, {}),
    ("ada", "", ASCII_PASSWORD, {
        "email": "ada@example.com", "emailVerified": True, "firstName": "Ada", "lastName": "Lovelace",
        "attributes": {"department": ["engineering", "research"], "phone_number": ["+1 555 123 0001"],
                       "phone_number_verified": ["true"]},
        "requiredActions": ["UPDATE_PASSWORD", "CONFIGURE_TOTP"],
    }),
    ("grace", "", ASCII_PASSWORD, {"email": "grace@example.com", "firstName": "Grace", "lastName": "Hopper",
                                   "enabled": False}),
    ("nopassword", None, None, {"email": "nopassword@example.com"}),
]
ROLES = [("editor", "Edits things"), ("viewer", ""), ("manager", "Editor and viewer")]
MEMBERSHIPS = {"ada": (["editor", "manager"], ["/staff/support/tier-2", "/partners"]),
               "grace": (["viewer"], ["/staff"]),
               "argon2-ascii": ([], ["/staff/support"])}

ARGON2_VARIANTS = {  # Keycloak 25's option syntax
    "argon2d-64": ["--spi-password-hashing-argon2-type=d", "--spi-password-hashing-argon2-hash-length=64",
                   "--spi-password-hashing-argon2-parallelism=2", "--spi-password-hashing-argon2-memory=8192"],
    "argon2i": ["--spi-password-hashing-argon2-type=i", "--spi-password-hashing-argon2-memory=4096",
                "--spi-password-hashing-argon2-iterations=3"],
}


def say(message):
    print(f"[vectors] {message}", file=sys.stderr, flush=True)


def h2_args(data_dir: Path) -> list[str]:
    return ["--db=dev-file", f"--db-url=jdbc:h2:file:{data_dir / 'h2' / 'keycloakdb'};NON_KEYWORDS=VALUE"]


def create_user(admin, realm, username, policy, password, extra):
    if policy is not None:
        admin.request("PUT", f"/admin/realms/{realm}", {"passwordPolicy": policy})
    body = {"username": username, "enabled": True, **extra}
    if password is not None:
        body["credentials"] = [{"type": "password", "value": password, "temporary": False}]
    admin.request("POST", f"/admin/realms/{realm}/users", body)


def user_id(admin, realm, username):
    return admin.request("GET", f"/admin/realms/{realm}/users?exact=true&username={username}")[1][0]["id"]


# Keycloak 25 (one production tenant runs it): its export of a smaller realm, in one layout.
KEYCLOAK_25 = "25.0.6"
LEGACY_25_USERS = ("argon2-ascii", "argon2-unicode", "sha512-unicode", "ada", "grace")


def build_legacy(admin, users=None):
    admin.request("POST", "/admin/realms", {"realm": REALM, "enabled": True})
    _, profile = admin.request("GET", f"/admin/realms/{REALM}/users/profile")
    admin.request("PUT", f"/admin/realms/{REALM}/users/profile", {**profile, "unmanagedAttributePolicy": "ENABLED"})
    for name, description in ROLES:
        admin.request("POST", f"/admin/realms/{REALM}/roles", {"name": name, "description": description})
    composites = [admin.request("GET", f"/admin/realms/{REALM}/roles/{n}")[1] for n in ("editor", "viewer")]
    admin.request("POST", f"/admin/realms/{REALM}/roles/manager/composites", composites)
    groups = {}
    for path in ("/staff", "/staff/support", "/staff/support/tier-2", "/partners"):
        parent, _, name = path.rpartition("/")
        url = f"/admin/realms/{REALM}/groups" + (f"/{groups[parent]}/children" if parent else "")
        admin.request("POST", url, {"name": name})
        listing = admin.request("GET", f"/admin/realms/{REALM}/group-by-path{path}")[1]
        groups[path] = listing["id"]
    viewer = admin.request("GET", f"/admin/realms/{REALM}/roles/viewer")[1]
    admin.request("POST", f"/admin/realms/{REALM}/groups/{groups['/staff']}/role-mappings/realm", [viewer])
    admin.request("POST", f"/admin/realms/{REALM}/clients", {
        "clientId": "reports", "publicClient": False, "serviceAccountsEnabled": True,
        "standardFlowEnabled": False, "secret": "reports-secret"})
    for username, policy, password, extra in LEGACY_USERS:
        if users is None or username in users:
            create_user(admin, REALM, username, policy, password, extra)
    for username, (roles, paths) in MEMBERSHIPS.items():
        if users is not None and username not in users:
            continue
        uid = user_id(admin, REALM, username)
        reps = [admin.request("GET", f"/admin/realms/{REALM}/roles/{r}")[1] for r in roles]
        if reps:
            admin.request("POST", f"/admin/realms/{REALM}/users/{uid}/role-mappings/realm", reps)
        for path in paths:
            admin.request("PUT", f"/admin/realms/{REALM}/users/{uid}/groups/{groups[path]}")


def export(home: Path, data_dir: Path, realm: str, target: Path, users: str, per_file: int | None = None):
    args = [str(home / "bin" / "kc.sh"), "export", f"--dir={target}", f"--realm={realm}", f"--users={users}",
            *h2_args(data_dir)]
    if per_file:
        args.append(f"--users-per-file={per_file}")
    say(f"kc.sh export --users={users} -> {target}")
    for _ in range(3):  # a loaded machine can time out opening the database
        result = subprocess.run(args, cwd=data_dir, capture_output=True, text=True)
        if result.returncode == 0:
            break
    if result.returncode != 0:
        raise SystemExit(f"kc.sh export failed:\n{(result.stdout + result.stderr)[-3000:]}")
    scrub(target)


def private_copy(home: Path, work: Path) -> Path:
    """The distribution copied for exports, without our jar: `kc.sh export` rebuilds the installation
    it runs in, which must not happen under the test suites' Keycloaks sharing the cached one."""
    copy = shutil.copytree(home, work / home.name, symlinks=True)
    for jar in (copy / "providers").glob("*.jar"):
        jar.unlink()
    return copy


KEY_MATERIAL = {"privateKey", "certificate", "secret"}


def scrub(directory: Path):
    """Blank the realm's generated signing and encryption keys: nothing reads them, and private keys
    have no place in a repository, even a throw-away realm's."""
    for path in directory.glob("*-realm.json"):
        realm = json.loads(path.read_text())
        for component in realm.get("components", {}).get("org.keycloak.keys.KeyProvider", []):
            for name in KEY_MATERIAL & set(component.get("config", {})):
                component["config"][name] = ["(removed)"]
        path.write_text(json.dumps(realm, indent=2, ensure_ascii=False) + "\n")


def credentials_of(export_dir: Path, passwords: dict[str, str], source: str) -> list[dict]:
    vectors = []
    for path in sorted(export_dir.glob("*.json")):
        for user in json.loads(path.read_text()).get("users", []):
            for credential in user.get("credentials", []):
                if credential["type"] == "password" and user["username"] in passwords:
                    vectors.append({
                        "source": source, "username": user["username"], "password": passwords[user["username"]],
                        "secretData": credential["secretData"], "credentialData": credential["credentialData"],
                    })
    return vectors


def run(name: str, extra_args: list[str], build, work: Path):
    data_dir = work / name
    server = start_keycloak(data_dir=data_dir, extra_args=extra_args, db_args=h2_args(data_dir), timeout=1200)
    try:
        admin = AdminClient(server.base_url, server.admin_user, server.admin_password, timeout=600)
        realm = build(admin)
    finally:
        server.stop()
    return data_dir, realm


def start_bare(home: Path, data_dir: Path, extra_args=()) -> KeycloakServer:
    """Another Keycloak release, as it ships (without our provider, built for the pinned one)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port, management = free_port(), free_port()
    env = {**os.environ, "KEYCLOAK_ADMIN": "admin", "KEYCLOAK_ADMIN_PASSWORD": "admin",
           "KC_BOOTSTRAP_ADMIN_USERNAME": "admin", "KC_BOOTSTRAP_ADMIN_PASSWORD": "admin"}
    log = data_dir / "keycloak.log"
    process = subprocess.Popen(
        [str(home / "bin" / "kc.sh"), "start-dev", "--http-host=127.0.0.1", f"--http-port={port}",
         f"--http-management-port={management}", "--health-enabled=true", "--cache=local", *h2_args(data_dir), *extra_args],
        cwd=data_dir, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True)
    server = KeycloakServer(base_url=f"http://127.0.0.1:{port}", port=port, management_port=management,
                            admin_user="admin", admin_password="admin", data_dir=data_dir, log_path=log,
                            home=home, process=process, pid=process.pid)
    wait_until_ready(server, 1200)
    return server


def keycloak_25(work: Path) -> list[dict]:
    home = fetch_distribution(KEYCLOAK_25)
    data_dir = work / "keycloak25"
    server = start_bare(home, data_dir)
    try:
        build_legacy(AdminClient(server.base_url, "admin", "admin", timeout=600), users=LEGACY_25_USERS)
    finally:
        server.stop()
    target = EXPORT_25_DIR
    shutil.rmtree(target, ignore_errors=True)
    export(home, data_dir, REALM, target, "different_files", per_file=2)
    passwords = {u: p for u, _, p, _ in LEGACY_USERS if p is not None and u in LEGACY_25_USERS}
    return credentials_of(target, passwords, f"keycloak {KEYCLOAK_25}, realm policy")


def argon2_variants(work: Path) -> list[dict]:
    """Argon2 as other servers configure it: one bare Keycloak 25 start per configuration (its Argon2
    provider is the pinned release's; a bare start needs neither our jar nor a rebuild)."""
    home = fetch_distribution(KEYCLOAK_25)
    vectors = []
    for name, args in ARGON2_VARIANTS.items():
        data_dir = work / name
        server = start_bare(home, data_dir, args)
        try:
            admin = AdminClient(server.base_url, "admin", "admin", timeout=600)
            admin.request("POST", "/admin/realms", {"realm": "argon", "enabled": True})
            create_user(admin, "argon", f"{name}-ascii", None, ASCII_PASSWORD, {})
            create_user(admin, "argon", f"{name}-unicode", None, UNICODE_PASSWORD, {})
        finally:
            server.stop()
        target = work / f"{name}-export"
        export(home, data_dir, "argon", target, "realm_file")
        vectors += credentials_of(target, {f"{name}-ascii": ASCII_PASSWORD, f"{name}-unicode": UNICODE_PASSWORD},
                                  f"keycloak {KEYCLOAK_25}, {' '.join(args)}")
    return vectors


def write_vectors(path: Path, version: str, how: str, vectors: list[dict]):
    path.write_text(json.dumps({
        "note": f"Password credentials written by a real Keycloak and read back through kc.sh export; made by "
                f"`python -m tests.data.make_keycloak_export{how}` (see its docstring).",
        "keycloak": version, "vectors": vectors}, indent=2, ensure_ascii=False) + "\n")
    say(f"{len(vectors)} vectors in {path}")


def legacy_vectors(version: str) -> list[dict]:
    passwords = {u: p for u, _, p, _ in LEGACY_USERS if p is not None}
    return credentials_of(EXPORT_DIR / "same_file", passwords, f"keycloak {version}, realm policy")


def main():
    work = Path(tempfile.mkdtemp(prefix="kc-vectors-"))
    try:
        if sys.argv[1:] == ["--keycloak-25"]:
            vectors = keycloak_25(work) + argon2_variants(work)
            write_vectors(VECTORS_25, KEYCLOAK_25, " --keycloak-25", vectors)
            return
        if sys.argv[1:] == ["--argon2-variants"]:  # only the variants, added to Keycloak 25's vectors
            document = json.loads(VECTORS_25.read_text())
            vectors = [v for v in document["vectors"] if "argon2-type" not in v["source"]] + argon2_variants(work)
            write_vectors(VECTORS_25, KEYCLOAK_25, " --keycloak-25", vectors)
            return
        version = keycloak_version()
        if sys.argv[1:] == ["--vectors"]:  # again from the committed export
            write_vectors(VECTORS, version, "", legacy_vectors(version))
            return
        data_dir, _ = run("legacy", [], lambda admin: build_legacy(admin), work)
        home = private_copy(fetch_distribution(), work)
        shutil.rmtree(EXPORT_DIR, ignore_errors=True)
        export(home, data_dir, REALM, EXPORT_DIR / "different_files", "different_files", per_file=2)
        export(home, data_dir, REALM, EXPORT_DIR / "same_file", "same_file")
        export(home, data_dir, REALM, EXPORT_DIR / "realm_file", "realm_file")
        write_vectors(VECTORS, version, "", legacy_vectors(version))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
