"""A realm that production runs on Keycloak's own user storage, moved into the backend with nobody noticing.

The realm is built by Keycloak's own means (admin API, not our provider): passwords hashed by each
of Keycloak's four algorithms, TOTP, a social link, a group tree carrying realm and client roles, a
composite role, a required action, a custom attribute claim, brute-force protection. Users log in
and keep their tokens; then the runbook: ``kc.sh export``, ``import_keycloak_export``,
``adopt_keycloak_realm`` while a thread keeps logging in; then every check of what users and the
services that validate their tokens would see.
"""

import hashlib
import hmac
import io
import json
import struct
import os
import signal
import subprocess
import threading
import time
from datetime import datetime, timezone

import pytest
from django.core.management import call_command

from keycloak_bridge.dev.keycloak_runner import _file_lock, install_provider, start_keycloak
from keycloak_bridge.dev.realm import AdminClient
from tests.e2e.conftest import REDIRECT_URI, release
from tests.e2e.keycloak_api import claims, direct_grant, refresh
from users.models import Group, Role, Tenant, User

pytestmark = pytest.mark.e2e

LEGACY = "legacy"
APP = "legacy-app"
BASE = f"/admin/realms/{LEGACY}"
# Claims that differ between two tokens of the same user by design; at_hash is the new access token's hash.
VOLATILE = {"iat", "exp", "jti", "sid", "auth_time", "session_state", "at_hash"}
EXPORTED = "Export finished successfully"
OTP_SECRET = "legacy-otp-secret-20b"
OTP_POLICY = {"subType": "totp", "digits": 6, "counter": 0, "period": 30, "algorithm": "HmacSHA1"}

# username -> (the realm's hashAlgorithm when the password was set, password). Keycloak rehashes a
# password with the realm's algorithm at a successful login, so the older hashes are on users who do
# not log in before the export (as in production), and the realm ends on argon2.
PASSWORDS = {
    "ivy": ("pbkdf2-sha512", "Ivy-sha512-pass-11"),
    "kim": ("pbkdf2-sha256", "Kim-sha256-pass-12"),
    "eve": ("pbkdf2-sha256", "Eve-action-pass-6"),
    "ned": ("pbkdf2", "Ned-sha1-pass-13"),
    "ada": ("argon2", "Ada-pässwörd-1"),
    "tom": ("argon2", "Tom-otp-pass-2"),
    "ben": ("argon2", "Ben-pass-3"),
    "sam": ("argon2", "Sam-social-pass-4"),
    "cat": ("argon2", "Cat-pass-5"),
    "dan": ("argon2", "Dan-pass-7"),
    "fay": ("argon2", "Fay-old-pass-9"),  # changes it between the export and the switch
}
LOGS_IN = ["ada", "tom", "ben", "sam", "cat", "dan"]  # eve has a required action: no token before she acts
DORMANT = ["ivy", "kim", "ned"]  # first log in after the switch
ADOPTED = [name for name in PASSWORDS if name != "fay"]
LOOP_USERS = ["dan", "ada", "sam", "ben"]  # the cutover's login thread, round robin (the backend limits checks per user)


def realm_representation():
    mapper = {"protocol": "openid-connect", "config": {
        "id.token.claim": "true", "access.token.claim": "true", "userinfo.token.claim": "true"}}
    return {
        "realm": LEGACY, "enabled": True,
        "bruteForceProtected": True, "failureFactor": 3, "permanentLockout": False,
        "waitIncrementSeconds": 300, "maxFailureWaitSeconds": 900, "maxDeltaTimeSeconds": 3600,
        "roles": {
            "realm": [{"name": "reader"}, {"name": "editor"},
                      {"name": "staff", "composite": True, "composites": {"realm": ["reader", "editor"]}}],
            "client": {APP: [{"name": "viewer"}, {"name": "admin"}]},
        },
        "clients": [{
            "clientId": APP, "publicClient": True, "directAccessGrantsEnabled": True, "standardFlowEnabled": True,
            "redirectUris": [REDIRECT_URI],
            "protocolMappers": [
                {**mapper, "name": "groups", "protocolMapper": "oidc-group-membership-mapper",
                 "config": {**mapper["config"], "claim.name": "groups", "full.path": "true"}},
                {**mapper, "name": "department", "protocolMapper": "oidc-usermodel-attribute-mapper",
                 "config": {**mapper["config"], "user.attribute": "department", "claim.name": "department",
                            "jsonType.label": "String"}},
            ],
        }],
        "groups": [{"name": "org", "realmRoles": ["reader"], "subGroups": [
            {"name": "team", "realmRoles": ["editor"], "clientRoles": {APP: ["viewer"]}}]}],
        "identityProviders": [{"alias": "partner", "providerId": "oidc", "enabled": True, "config": {
            "clientId": LEGACY, "clientSecret": "unused", "clientAuthMethod": "client_secret_post",
            "authorizationUrl": "http://127.0.0.1:9/auth", "tokenUrl": "http://127.0.0.1:9/token"}}],
    }


def user_representation(name, password, **extra):
    return {"username": name, "enabled": True, "email": f"{name}@legacy.test", "emailVerified": True,
            "firstName": name.title(), "lastName": "Legacy",
            "credentials": [{"type": "password", "value": password, "temporary": False}], **extra}


def build_legacy_realm(admin: AdminClient) -> dict[str, str]:
    """The realm as production has it; returns user ids by username."""
    admin.request("POST", "/admin/realms", realm_representation(), ok=(201,))
    _, profile = admin.request("GET", f"{BASE}/users/profile")
    admin.request("PUT", f"{BASE}/users/profile", {**profile, "unmanagedAttributePolicy": "ENABLED"})
    extras = {
        "ada": {"groups": ["/org/team"], "attributes": {"department": ["research"]}},
        "ben": {"groups": ["/org"]},
        "eve": {"requiredActions": ["UPDATE_PASSWORD"]},
    }
    for algorithm in ("pbkdf2-sha512", "pbkdf2-sha256", "pbkdf2", "argon2"):
        admin.request("PUT", BASE, {"passwordPolicy": f"hashAlgorithm({algorithm})"})
        for name, (hashed_by, password) in PASSWORDS.items():
            if hashed_by != algorithm:
                continue
            rep = user_representation(name, password, **extras.get(name, {}))
            if name == "tom":  # an authenticator app's secret, as Keycloak's own import takes it
                # An import grants only the roles it lists; a user made any other way has the defaults.
                rep["realmRoles"] = [f"default-roles-{LEGACY}"]
                rep["credentials"].append({"type": "otp", "userLabel": "phone",
                                           "secretData": json.dumps({"value": OTP_SECRET}),
                                           "credentialData": json.dumps(OTP_POLICY)})
                admin.request("POST", f"{BASE}/partialImport", {"ifResourceExists": "FAIL", "users": [rep]})
            else:
                admin.request("POST", f"{BASE}/users", rep, ok=(201,))
    ids = {name: admin.request("GET", f"{BASE}/users?exact=true&username={name}")[1][0]["id"] for name in PASSWORDS}
    _, roles = admin.request("GET", f"{BASE}/roles")
    by_name = {r["name"]: r for r in roles}
    admin.request("POST", f"{BASE}/users/{ids['ada']}/role-mappings/realm", [by_name["staff"]])
    admin.request("POST", f"{BASE}/users/{ids['cat']}/role-mappings/realm", [by_name["reader"]])
    _, (client,) = admin.request("GET", f"{BASE}/clients?clientId={APP}")
    _, app_admin = admin.request("GET", f"{BASE}/clients/{client['id']}/roles/admin")
    admin.request("POST", f"{BASE}/users/{ids['ada']}/role-mappings/clients/{client['id']}", [app_admin])
    admin.request("POST", f"{BASE}/users/{ids['sam']}/federated-identity/partner",
                  {"identityProvider": "partner", "userId": "partner-sam", "userName": "sam"})
    return ids


def totp(step: int) -> str:
    """RFC 6238 with Keycloak's defaults (the secret's bytes as the key, SHA-1, 6 digits)."""
    digest = hmac.new(OTP_SECRET.encode(), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 10 ** 6:06d}"


class Otp:
    """Codes for tom, never one Keycloak has already seen (it refuses a code used twice)."""

    def __init__(self):
        self.used = set()

    def code(self) -> str:
        step = int(time.time()) // 30
        while step in self.used:
            step += 1  # Keycloak also accepts the next period's code
        self.used.add(step)
        return totp(step)


def login(kc_url, name, otp=None, scope="openid", password=None):
    fields = {"totp": otp.code()} if name == "tom" and otp else {}
    return direct_grant(kc_url, LEGACY, name, password or PASSWORDS[name][1], client_id=APP, scope=scope, **fields)


def stable(token: str) -> dict:
    return {k: v for k, v in claims(token).items() if k not in VOLATILE}


def export_realm(keycloak, target):
    """``kc.sh export`` as the runbook has it. Here the server stops (H2 lets one process open the
    database; production's exports run beside the cluster on its PostgreSQL), exports and starts again
    on the same port and data: Keycloak 26 keeps user sessions in its database, so they survive. The
    export runs in start-dev's profile with its build options, under the runner's lock, so that it does
    not rebuild the Keycloak installation the other tests share."""
    keycloak.stop()
    h2 = f"jdbc:h2:file:{keycloak.data_dir / 'h2' / 'keycloakdb'};NON_KEYWORDS=VALUE"
    log = target.parent / "export.log"
    with _file_lock(keycloak.home.parent / ".start.lock"), open(log, "wb") as out:
        install_provider(keycloak.home)
        export = subprocess.Popen(
            [str(keycloak.home / "bin" / "kc.sh"), "--profile=dev", "export", "--dir", str(target),
             "--users", "different_files", "--realm", LEGACY, "--db=dev-file", f"--db-url={h2}",
             # the options the runner built with, where export takes them (26.3's export has neither)
             *(["--cache=local", "--health-enabled=true"] if release(keycloak.version) >= (26, 4) else [])],
            cwd=keycloak.data_dir, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 900
        # in start-dev's profile the process stays up once the export is written
        while export.poll() is None and time.monotonic() < deadline and EXPORTED not in log.read_text():
            time.sleep(1)
        if export.poll() is None:
            os.killpg(export.pid, signal.SIGTERM)
            export.wait(timeout=60)
    restarted = start_keycloak(port=keycloak.port, management_port=keycloak.management_port,
                               data_dir=keycloak.data_dir, admin_user=keycloak.admin_user,
                               admin_password=keycloak.admin_password, build=False, timeout=900,
                               version=keycloak.version)
    keycloak.process, keycloak.pid = restarted.process, restarted.pid
    assert EXPORTED in log.read_text(), log.read_text()[-3000:]
    assert sorted(p.name for p in target.iterdir()) == [f"{LEGACY}-realm.json", f"{LEGACY}-users-0.json"]
    users = json.loads((target / f"{LEGACY}-users-0.json").read_text())["users"]
    algorithms = {u["username"]: json.loads(c["credentialData"])["algorithm"]
                  for u in users for c in u["credentials"] if c["type"] == "password"}
    assert algorithms == {name: hashed_by for name, (hashed_by, _) in PASSWORDS.items()}


def backend_state(tenant: Tenant):
    """Every row of the tenant an import writes, to compare two imports."""
    return (
        list(User.objects.filter(tenant=tenant).order_by("id").values()),
        sorted(User.roles.through.objects.filter(user__tenant=tenant).values_list("user_id", "role__name")),
        sorted(User.identity_groups.through.objects.filter(user__tenant=tenant).values_list("user_id", "group_id")),
        list(Role.objects.filter(tenant=tenant).order_by("name").values()),
        list(Group.objects.filter(tenant=tenant).order_by("id").values()),
    )


class LoginLoop(threading.Thread):
    """Logs users in, one after another, until stopped: (start, end, status) of every attempt."""

    def __init__(self, kc_url):
        super().__init__(daemon=True)
        self.kc_url = kc_url
        self.attempts = []
        self.stopping = threading.Event()

    def run(self):
        turn = 0
        while not self.stopping.is_set():
            name = LOOP_USERS[turn % len(LOOP_USERS)]
            turn += 1
            started = time.monotonic()
            status, _ = login(self.kc_url, name)
            self.attempts.append((started, time.monotonic(), status))
            time.sleep(0.2)

    def successes_after(self, moment) -> int:
        return sum(1 for started, _, status in list(self.attempts) if started > moment and status == 200)

    def wait_for(self, count, after, timeout=120):
        deadline = time.monotonic() + timeout
        while self.successes_after(after) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        assert self.successes_after(after) >= count, self.attempts[-5:]


def test_a_live_realm_moves_into_the_backend_without_anyone_noticing(
        keycloak, backend, operators_tenant, tmp_path, capsys):
    kc = keycloak.base_url
    admin = AdminClient(kc, keycloak.admin_user, keycloak.admin_password)
    status, _ = admin.request("GET", BASE)
    if status == 200:  # a previous run on this Keycloak's data
        admin.request("DELETE", BASE)
    ids = build_legacy_realm(admin)
    otp = Otp()

    # ---------------------------------------------------------------- before: tokens users hold
    before = {}
    for name in LOGS_IN:
        scope = "openid offline_access" if name == "ada" else "openid"
        status, tokens = login(kc, name, otp, scope=scope)
        assert status == 200, (name, tokens)
        before[name] = tokens
    ada = claims(before["ada"]["access_token"])
    assert ada["realm_access"]["roles"], ada  # what the comparison later relies on is there at all
    assert {"staff", "reader", "editor"} <= set(ada["realm_access"]["roles"])
    assert sorted(ada["resource_access"][APP]["roles"]) == ["admin", "viewer"]
    assert ada["groups"] == ["/org/team"] and ada["department"] == "research"
    assert ada["sub"] == ids["ada"]

    # ---------------------------------------------------------------- 1. export, then import
    export = tmp_path / "export"
    exported_at = datetime.now(timezone.utc).isoformat()
    export_realm(keycloak, export)
    tenant = Tenant.objects.create(slug=LEGACY, display_name="Legacy")
    call_command("import_keycloak_export", str(export), tenant=LEGACY, no_progress=True, stdout=io.StringIO())
    imported = backend_state(tenant)
    assert sorted(str(u["id"]) for u in imported[0]) == sorted(ids.values())
    call_command("import_keycloak_export", str(export), tenant=LEGACY, no_progress=True, stdout=io.StringIO())
    assert backend_state(tenant) == imported, "a second import of the same export changed the backend"

    # After the export (and the last delta pass): a user signs up, another changes her password.
    admin.request("POST", f"{BASE}/users", user_representation("late", "Late-pass-8"), ok=(201,))
    late = admin.request("GET", f"{BASE}/users?exact=true&username=late")[1][0]["id"]
    admin.request("PUT", f"{BASE}/users/{ids['fay']}/reset-password",
                  {"type": "password", "value": "Fay-new-pass-10", "temporary": False})

    # ---------------------------------------------------------------- 3. switch, while users log in
    loop = LoginLoop(kc)
    loop.start()
    try:
        loop.wait_for(3, after=0)
        mark = backend.mark()
        switch_started = time.monotonic()
        out = io.StringIO()
        call_command("adopt_keycloak_realm", "--exported-at", exported_at, tenant=LEGACY, realm=LEGACY,
                     keycloak_url=kc, backend_url=backend.url, admin_user=keycloak.admin_user,
                     admin_password=keycloak.admin_password, stdout=out)
        switch_ended = time.monotonic()
        loop.wait_for(len(LOOP_USERS) + 1, after=switch_ended)
    finally:
        loop.stopping.set()
        loop.join(timeout=60)
    report = out.getvalue()
    assert f"Adopted {len(ADOPTED)} users" in report, report
    assert f"{late} (late)" in report, report
    assert "1 Keycloak users whose password changed after the export" in report and ids["fay"] in report, report
    # The aim is none; a login racing its own user's adoption may be refused once (seen: one of a dozen,
    # 60 ms). Never outside the switch, and never more than a moment in all.
    refused = [a for a in loop.attempts if a[2] != 200]
    assert all(switch_started <= started and end <= switch_ended + 1 for started, end, _ in refused), refused
    assert sum(end - started for started, end, _ in refused) <= 2, f"logins refused during the switch: {refused}"
    ends = [end for started, end, status in loop.attempts if status == 200]
    gaps = [b - a for a, b in zip(ends, ends[1:])]
    around = [b - a for a, b in zip(ends, ends[1:]) if b >= switch_started and a <= switch_ended]
    with capsys.disabled():
        print(f"\n[cutover] {len(loop.attempts)} logins, {len(refused)} refused; switch took "
              f"{switch_ended - switch_started:.1f}s; longest interval between successful logins "
              f"{max(around or gaps):.2f}s during the switch, {max(gaps):.2f}s overall, median "
              f"{sorted(gaps)[len(gaps) // 2]:.2f}s")
    # the loop's logins after the switch were the backend's to check
    verified = backend.paths_since(mark, f"/v1/users/{ids['dan']}/credentials:verify")
    assert f"/v1/users/{ids['dan']}/credentials:verify" in verified

    # ---------------------------------------------------------------- 4. check
    # Saved refresh tokens and the offline token still refresh, to the same claims.
    for name in LOGS_IN:
        status, tokens = refresh(kc, LEGACY, before[name]["refresh_token"], client_id=APP)
        assert status == 200, (name, tokens)
        assert stable(tokens["access_token"]) == stable(before[name]["access_token"]), name
        assert stable(tokens["id_token"]) == stable(before[name]["id_token"]), name
    status, tokens = refresh(kc, LEGACY, before["ada"]["refresh_token"], client_id=APP)
    assert status == 200 and claims(tokens["refresh_token"])["typ"] == "Offline", tokens

    # Every old password logs in through the provider, to the claims recorded before.
    mark = backend.mark()
    for name in LOGS_IN:
        scope = "openid offline_access" if name == "ada" else "openid"
        status, tokens = login(kc, name, otp, scope=scope)
        assert status == 200, (name, tokens)
        assert stable(tokens["access_token"]) == stable(before[name]["access_token"]), name
        assert stable(tokens["id_token"]) == stable(before[name]["id_token"]), name
        assert User.objects.filter(tenant=tenant, pk=ids[name]).exists()
    for name in DORMANT:
        assert login(kc, name)[0] == 200, name
    paths = backend.paths_since(mark, f"/v1/users/{ids['ned']}/credentials:verify")
    for name in LOGS_IN + DORMANT:
        assert f"/v1/users/{ids[name]}/credentials:verify" in paths, name
    assert login(kc, "ada", password="Ada-wrong")[0] == 401

    # TOTP is still asked for, and still works.
    assert login(kc, "tom")[0] == 401
    assert login(kc, "tom", otp)[0] == 200

    # The required action is still pending; the social link still finds its user.
    assert login(kc, "eve")[1]["error_description"] == "Account is not fully set up"
    _, linked = admin.request("GET", f"{BASE}/users?idpAlias=partner&idpUserId=partner-sam")
    assert [(u["id"], u["email"]) for u in linked] == [(ids["sam"], "sam@legacy.test")]

    # The users the switch left to Keycloak log in as before, with what Keycloak has.
    assert login(kc, "late", password="Late-pass-8")[0] == 200
    assert not User.objects.filter(tenant=tenant, username="late").exists()
    assert login(kc, "fay", password="Fay-new-pass-10")[0] == 200

    # Brute-force protection still locks an account, the right password included.
    for _ in range(3):
        assert login(kc, "cat", password="Cat-wrong")[0] == 401
    assert login(kc, "cat")[0] == 401
    _, lock = admin.request("GET", f"{BASE}/attack-detection/brute-force/users/{ids['cat']}")
    assert lock["disabled"] is True, lock

    # Running the switch again adopts nothing new.
    out = io.StringIO()
    call_command("adopt_keycloak_realm", "--exported-at", exported_at, tenant=LEGACY, realm=LEGACY, keycloak_url=kc,
                 backend_url=backend.url, admin_user=keycloak.admin_user, admin_password=keycloak.admin_password,
                 stdout=out)
    assert f"Adopted 0 users; {len(ADOPTED)} were already the backend's" in out.getvalue(), out.getvalue()

    admin.request("DELETE", BASE)
