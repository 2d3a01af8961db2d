"""`import_keycloak_export` on real `kc.sh export` output (tests/data/keycloak_export, made by
tests/data/make_keycloak_export.py with the pinned Keycloak), and Keycloak's password hashes.

The committed export's realm `legacy` has users hashed with every algorithm, a non-ASCII password,
attributes, a phone number, required actions, a disabled user, realm roles (one composite), a
nested group tree and a service account. Variants for the other cases are written from it.
"""

import copy
import json
import shutil
from pathlib import Path

import pytest
from django.contrib.auth.hashers import check_password, identify_hasher
from django.core.management import CommandError, call_command
from django.db import connection

from audit.models import AuditEvent
from tests.conftest import ALL_SCOPES
from users.keycloak_hashers import KeycloakCredentialError, from_keycloak
from users.keycloak_import import export, load
from users.models import Group, Role, Tenant, User

DATA = Path(__file__).parent / "data"
EXPORT = DATA / "keycloak_export"
EXPORT_25 = DATA / "keycloak25_export"
VECTORS = [vector for name in ("keycloak_hash_vectors.json", "keycloak25_hash_vectors.json")
           for vector in json.loads((DATA / name).read_text())["vectors"]]
ASCII_PASSWORD = "correct horse battery staple"
UNICODE_PASSWORD = "pässwörd-ñ✓"


def run(path, tenant="legacy", **options):
    return call_command("import_keycloak_export", str(path), tenant=tenant, no_progress=True, **options)


def realm_json():
    return json.loads((EXPORT / "different_files" / "legacy-realm.json").read_text())


def all_users():
    """Every user of the committed export (the same_file layout holds them all in one file)."""
    return json.loads((EXPORT / "same_file" / "legacy-users-0.json").read_text())["users"]


def write_export(directory: Path, users: list[dict], realm: dict | None = None, per_file: int = 2) -> Path:
    """A different_files export of the legacy realm with `users`."""
    directory.mkdir(parents=True, exist_ok=True)
    realm = dict(realm or realm_json())
    realm.pop("users", None)
    (directory / "legacy-realm.json").write_text(json.dumps(realm))
    for n in range(0, max(len(users), 1), per_file):
        (directory / f"legacy-users-{n // per_file}.json").write_text(
            json.dumps({"realm": "legacy", "users": users[n:n + per_file]}))
    return directory


def user(username):
    return next(u for u in all_users() if u["username"] == username)


def state():
    """Every row the import writes, with the row versions PostgreSQL keeps (xmin moves on any update)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, xmin::text, updated_at FROM users_user ORDER BY id")
        users = cursor.fetchall()
        cursor.execute("SELECT user_id, role_id, xmin::text FROM users_user_roles ORDER BY 1, 2")
        roles = cursor.fetchall()
        cursor.execute("SELECT user_id, group_id, xmin::text FROM users_user_identity_groups ORDER BY 1, 2")
        groups = cursor.fetchall()
        cursor.execute("SELECT id, xmin::text FROM users_group ORDER BY id")
        group_rows = cursor.fetchall()
    return users, roles, groups, group_rows, list(Role.objects.values_list("id", "name")), AuditEvent.objects.count()


# --- the hashes ---------------------------------------------------------------------------------


def test_vectors_cover_every_algorithm_and_argon2_costs():
    data = [json.loads(v["credentialData"]) for v in VECTORS]
    assert {d["algorithm"] for d in data} == {"argon2", "pbkdf2-sha512", "pbkdf2-sha256", "pbkdf2"}
    argon2 = {(d["hashIterations"], *(d["additionalParameters"][k][0] for k in ("memory", "parallelism", "hashLength")))
              for d in data if d["algorithm"] == "argon2"}
    assert {(5, "7168", "1", "32"), (3, "7168", "1", "32"), (5, "8192", "2", "64"), (3, "4096", "1", "32")} <= argon2
    assert {v["password"] for v in VECTORS} == {ASCII_PASSWORD, UNICODE_PASSWORD}


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["username"])
def test_every_keycloak_hash_verifies_and_refuses_wrong_passwords(vector):
    encoded = from_keycloak(vector["secretData"], vector["credentialData"])
    assert identify_hasher(encoded).algorithm.startswith("keycloak_")
    assert check_password(vector["password"], encoded)
    assert not check_password(vector["password"] + "x", encoded)
    if not vector["password"].isascii():  # the UTF-8 bytes are hashed, not another encoding's
        assert not check_password(vector["password"].encode("utf-8").decode("latin-1"), encoded)


@pytest.mark.parametrize("kind,version,memory,passes,lanes,length", [
    ("id", "1.3", 7168, 5, 1, 32), ("i", "1.0", 4096, 3, 1, 32), ("d", "1.3", 8192, 2, 2, 64), ("i", "1.3", 1024, 1, 4, 16),
])
def test_argon2_parameters_are_read_as_libargon2_reads_them(kind, version, memory, passes, lanes, length):
    """Whatever type, version and cost a Keycloak server was configured with (the real vectors are
    all argon2id 1.3, Keycloak's only type in practice): the credential as Keycloak writes it
    verifies, with the hash libargon2 makes for those parameters."""
    import base64

    import argon2.low_level as low

    types = {"id": low.Type.ID, "i": low.Type.I, "d": low.Type.D}
    salt = bytes(range(16))
    raw = low.hash_secret_raw(UNICODE_PASSWORD.encode(), salt, time_cost=passes, memory_cost=memory,
                              parallelism=lanes, hash_len=length, type=types[kind],
                              version={"1.3": 0x13, "1.0": 0x10}[version])
    encoded_by_libargon2 = low.hash_secret(UNICODE_PASSWORD.encode(), salt, time_cost=passes, memory_cost=memory,
                                           parallelism=lanes, hash_len=length, type=types[kind],
                                           version={"1.3": 0x13, "1.0": 0x10}[version])
    assert low.verify_secret(encoded_by_libargon2, UNICODE_PASSWORD.encode(), types[kind])
    assert encoded_by_libargon2.decode().rsplit("$", 1)[1] == base64.b64encode(raw).decode().rstrip("=")
    credential = from_keycloak(
        json.dumps({"value": base64.b64encode(raw).decode(), "salt": base64.b64encode(salt).decode(),
                    "additionalParameters": {}}),
        json.dumps({"hashIterations": passes, "algorithm": "argon2", "additionalParameters": {
            "hashLength": [str(length)], "memory": [str(memory)], "type": [kind], "version": [version],
            "parallelism": [str(lanes)]}}))
    assert check_password(UNICODE_PASSWORD, credential)
    assert not check_password(ASCII_PASSWORD, credential)


def test_unknown_or_malformed_credentials_are_refused():
    vector = VECTORS[0]
    data = json.loads(vector["credentialData"])
    with pytest.raises(KeycloakCredentialError, match="unknown hash algorithm 'bcrypt'"):
        from_keycloak(vector["secretData"], json.dumps({**data, "algorithm": "bcrypt"}))
    with pytest.raises(KeycloakCredentialError, match="unknown argon2 type"):
        from_keycloak(vector["secretData"], json.dumps(
            {**data, "algorithm": "argon2", "additionalParameters": {**data.get("additionalParameters", {}),
                                                                   "type": ["x"], "version": ["1.3"]}}))
    with pytest.raises(KeycloakCredentialError, match="not JSON"):
        from_keycloak("{", vector["credentialData"])


# --- the import -----------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["different_files", "same_file", "realm_file"])
def test_each_layout_imports_the_same_users(db, layout, capsys):
    path = EXPORT / layout if layout != "realm_file" else EXPORT / layout / "legacy-realm.json"
    run(path)
    out = capsys.readouterr().out
    tenant = Tenant.objects.get(slug="legacy")
    exported = {u["id"]: u for u in all_users() if not u.get("serviceAccountClientId")}
    assert set(map(str, User.objects.filter(tenant=tenant).values_list("id", flat=True))) == set(exported)
    assert f"realm legacy ({layout}" in out and "users created: 12" in out
    assert "service-account-reports" in out  # skipped, and listed


def test_a_keycloak_25_export(db, make_client):
    run(EXPORT_25)
    tenant = Tenant.objects.get(slug="legacy")
    ada = User.objects.get(tenant=tenant, username="ada")
    assert ada.phone_number == "+15551230001" and sorted(ada.required_actions) == ["CONFIGURE_TOTP", "UPDATE_PASSWORD"]
    assert set(ada.identity_groups.values_list("path", flat=True)) == {"/staff/support/tier-2", "/partners"}
    assert set(ada.roles.values_list("name", flat=True)) == {"editor", "manager"}
    api = make_client(tenant)
    for username, password in [("argon2-unicode", UNICODE_PASSWORD), ("sha512-unicode", UNICODE_PASSWORD)]:
        user_id = User.objects.get(tenant=tenant, username=username).id
        answer = api.post(f"/v1/users/{user_id}/credentials:verify", {"password": password}, format="json")
        assert answer.json() == {"valid": True}, username


def test_fields_attributes_phone_and_required_actions(db):
    run(EXPORT / "different_files")
    ada_kc = user("ada")
    ada = User.objects.get(id=ada_kc["id"])
    assert (ada.username, ada.email, ada.email_verified, ada.first_name, ada.last_name, ada.is_active) == (
        "ada", "ada@example.com", True, "Ada", "Lovelace", True)
    assert ada.phone_number == "+15551230001" and ada.phone_verified
    assert ada.attributes == {"department": ["engineering", "research"]}
    assert sorted(ada.required_actions) == ["CONFIGURE_TOTP", "UPDATE_PASSWORD"]
    assert int(ada.created_at.timestamp() * 1000) == ada_kc["createdTimestamp"]
    grace = User.objects.get(username="grace")
    assert not grace.is_active and grace.deactivated_at is not None
    assert not User.objects.get(username="nopassword").has_usable_password()
    assert hasattr(ada, "fan_profile")  # as every user the services create


def test_realm_roles_and_nested_groups(db):
    run(EXPORT / "different_files")
    tenant = Tenant.objects.get(slug="legacy")
    assert set(Role.objects.filter(tenant=tenant).values_list("name", flat=True)) == {"editor", "viewer", "manager"}
    tier2 = Group.objects.get(tenant=tenant, path="/staff/support/tier-2")
    assert tier2.parent.path == "/staff/support" and tier2.parent.parent.path == "/staff"
    assert str(tier2.id) == next(g for g in realm_json()["groups"] if g["name"] == "staff")[
        "subGroups"][0]["subGroups"][0]["id"]  # Keycloak's group ids are kept
    ada = User.objects.get(username="ada")
    assert set(ada.roles.values_list("name", flat=True)) == {"editor", "manager"}  # no default-roles-legacy
    assert set(ada.identity_groups.values_list("path", flat=True)) == {"/staff/support/tier-2", "/partners"}
    assert set(User.objects.get(username="grace").identity_groups.values_list("path", flat=True)) == {"/staff"}


@pytest.mark.parametrize("username,password", [
    ("argon2-ascii", ASCII_PASSWORD), ("argon2-unicode", UNICODE_PASSWORD), ("argon2-t3", ASCII_PASSWORD),
    ("sha512-ascii", ASCII_PASSWORD), ("sha512-unicode", UNICODE_PASSWORD),
    ("sha256-ascii", ASCII_PASSWORD), ("sha256-unicode", UNICODE_PASSWORD),
    ("sha1-ascii", ASCII_PASSWORD), ("sha1-unicode", UNICODE_PASSWORD),
])
def test_old_passwords_verify_through_the_providers_call_and_are_upgraded(db, make_client, username, password):
    run(EXPORT / "same_file")
    tenant = Tenant.objects.get(slug="legacy")
    api = make_client(tenant, ALL_SCOPES)
    imported = User.objects.get(tenant=tenant, username=username)
    keycloak_hash = imported.password
    assert keycloak_hash.startswith("keycloak_")

    wrong = api.post(f"/v1/users/{imported.id}/credentials:verify", {"password": password + "!"}, format="json")
    assert wrong.status_code == 200 and wrong.json() == {"valid": False}
    imported.refresh_from_db()
    assert imported.password == keycloak_hash  # a wrong password upgrades nothing

    right = api.post(f"/v1/users/{imported.id}/credentials:verify", {"password": password}, format="json")
    assert right.json() == {"valid": True}
    imported.refresh_from_db()
    assert identify_hasher(imported.password).algorithm == "argon2"  # the backend's own, from now on
    assert imported.check_password(password)


def test_skipped_users_are_reported(db, tmp_path, capsys):
    federated = {**copy.deepcopy(user("grace")), "id": "7e3c1b1e-0000-4000-8000-000000000001",
                 "username": "ldap-user", "email": "ldap@example.com", "federationLink": "ldap-component"}
    run(write_export(tmp_path / "export", [*all_users(), federated]))
    out = capsys.readouterr().out
    assert "users skipped: 2" in out
    assert "7e3c1b1e-0000-4000-8000-000000000001 (ldap-user): federated by storage provider ldap-component" in out
    assert "(service-account-reports): service account of client reports" in out
    assert not User.objects.filter(username__in=["ldap-user", "service-account-reports"]).exists()


def test_the_same_export_twice_changes_nothing(db):
    run(EXPORT / "different_files")
    before = state()
    run(EXPORT / "same_file")
    assert state() == before


def test_a_user_without_a_creation_time_keeps_the_first_runs(db, tmp_path):
    """A realm import may create users without `createdTimestamp`; their exports carry none."""
    users = copy.deepcopy(all_users())
    for one in users:
        one.pop("createdTimestamp", None)
    export = write_export(tmp_path / "untimed", users)
    run(export)
    before = state()
    created = dict(User.objects.values_list("id", "created_at"))
    run(export)
    assert state() == before
    assert dict(User.objects.values_list("id", "created_at")) == created


@pytest.mark.parametrize("created", [-1, 253_402_300_800_000, 1e300])
def test_a_creation_time_out_of_range_is_listed(db, tmp_path, capsys, created):
    users = copy.deepcopy(all_users())
    grace = next(u for u in users if u["username"] == "grace")
    grace["createdTimestamp"] = created
    with pytest.raises(CommandError, match="cannot be imported; nothing was written"):
        run(write_export(tmp_path / "odd", users))
    assert f"{grace['id']} (grace): createdTimestamp {created} is not a time in milliseconds since 1970" \
        in capsys.readouterr().err
    assert not User.objects.exists()


def test_a_newer_export_updates_in_place(db, tmp_path):
    run(EXPORT / "different_files")
    untouched = User.objects.get(username="grace")
    users = copy.deepcopy(all_users())
    ada = next(u for u in users if u["username"] == "ada")
    ada.update(email="ada@newmail.example", lastName="King", realmRoles=["viewer"], groups=["/staff"])
    ada["attributes"]["department"] = ["research"]
    run(write_export(tmp_path / "delta", users))
    updated = User.objects.get(id=ada["id"])
    assert (updated.email, updated.last_name, updated.attributes["department"]) == (
        "ada@newmail.example", "King", ["research"])
    assert set(updated.roles.values_list("name", flat=True)) == {"viewer"}
    assert set(updated.identity_groups.values_list("path", flat=True)) == {"/staff"}
    assert User.objects.get(id=untouched.id).updated_at == untouched.updated_at
    assert AuditEvent.objects.filter(action=load.ACTION).count() == 2


def test_a_password_the_backend_already_rewrote_is_kept_by_a_delta_pass(db, make_client):
    run(EXPORT / "same_file")
    tenant = Tenant.objects.get(slug="legacy")
    sha = User.objects.get(username="sha512-ascii")
    make_client(tenant).post(f"/v1/users/{sha.id}/credentials:verify", {"password": ASCII_PASSWORD}, format="json")
    upgraded = User.objects.get(id=sha.id).password
    assert upgraded.startswith("argon2$")
    run(EXPORT / "same_file")
    assert User.objects.get(id=sha.id).password == upgraded


def test_duplicate_emails_are_listed_and_nothing_is_written(db, tmp_path):
    users = copy.deepcopy(all_users())
    next(u for u in users if u["username"] == "grace")["email"] = "ada@example.com"
    with pytest.raises(CommandError, match="cannot be imported; nothing was written"):
        run(write_export(tmp_path / "dup", users))
    assert not Tenant.objects.filter(slug="legacy").exists() and not User.objects.exists()


def test_memberships_of_roles_and_groups_the_realm_does_not_define_are_listed(db, tmp_path, capsys):
    users = copy.deepcopy(all_users())
    grace = next(u for u in users if u["username"] == "grace")
    grace["realmRoles"] = [*grace.get("realmRoles", []), "ghost-role"]
    grace["groups"] = [*grace.get("groups", []), "/nowhere"]
    with pytest.raises(CommandError, match="cannot be imported"):
        run(write_export(tmp_path / "ghosts", users))
    err = capsys.readouterr().err
    assert f"{grace['id']} (): realm role ghost-role is not one the backend can hold" in err
    assert f"{grace['id']} (): group /nowhere is not one the backend can hold" in err
    assert not Tenant.objects.filter(slug="legacy").exists()


def test_a_clash_with_a_user_of_the_tenant_is_listed_by_id(db, tmp_path, capsys):
    from users import services
    tenant = Tenant.objects.create(slug="legacy", display_name="Legacy")
    other = services.create_user(tenant, username="someone", email="grace@example.com")
    before = state()
    with pytest.raises(CommandError):
        run(EXPORT / "different_files")
    err = capsys.readouterr().err
    assert f"{user('grace')['id']} (grace): another user has the e-mail address grace@example.com" in err
    assert f"{other.id} (someone): another user has the e-mail address grace@example.com (a user of the tenant" in err
    assert "users created" not in err
    assert state() == before


def test_malformed_json_names_the_file_and_writes_nothing(db, tmp_path):
    path = shutil.copytree(EXPORT / "different_files", tmp_path / "export")
    broken = path / "legacy-users-2.json"
    broken.write_text(broken.read_text()[:-40])
    with pytest.raises(CommandError, match=r"legacy-users-2\.json: user after .*malformed JSON"):
        run(path)
    assert not User.objects.exists() and not Tenant.objects.exists()


def test_an_unknown_hash_algorithm_names_the_file_and_the_user(db, tmp_path):
    users = copy.deepcopy(all_users())
    sha = next(u for u in users if u["username"] == "sha1-ascii")
    credential = next(c for c in sha["credentials"] if c["type"] == "password")
    credential["credentialData"] = json.dumps({**json.loads(credential["credentialData"]), "algorithm": "md5"})
    with pytest.raises(CommandError, match=rf"legacy-users-\d\.json: user {sha['id']} \(sha1-ascii\): "
                                           r"unknown hash algorithm 'md5'"):
        run(write_export(tmp_path / "export", users))
    assert not User.objects.exists()


@pytest.mark.parametrize("content,message", [
    ('{"users": []}', "not a Keycloak export"),
    ('[{"realm": "legacy"}]', "not a Keycloak export"),
    ("not json at all", "malformed JSON"),
])
def test_a_file_that_is_not_a_keycloak_export_is_refused(db, tmp_path, content, message):
    path = tmp_path / "legacy-realm.json"
    path.write_text(content)
    with pytest.raises(CommandError, match=rf"legacy-realm\.json: {message}"):
        run(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CommandError, match="not a Keycloak export: no <realm>-realm.json"):
        run(tmp_path / "empty")
    assert not Tenant.objects.exists()


def test_a_dry_run_checks_and_writes_nothing(db, capsys):
    run(EXPORT / "different_files", dry_run=True)
    assert "dry run, nothing written" in capsys.readouterr().out
    assert not User.objects.exists() and not Tenant.objects.exists()


def test_the_admins_password_form_upgrades_an_imported_operators_hash(db, rf):
    from django.contrib.auth import authenticate
    Tenant.objects.create(slug="ops", display_name="Operators", is_operators=True)
    run(EXPORT / "same_file", tenant="ops")
    assert User.objects.get(username="sha256-unicode").password.startswith("keycloak_pbkdf2_sha256$")
    signed_in = authenticate(rf.post("/admin/login/"), username="ops/sha256-unicode", password=UNICODE_PASSWORD)
    assert signed_in is not None and signed_in.username == "sha256-unicode"
    assert User.objects.get(username="sha256-unicode").password.startswith("argon2$")


def test_worker_processes_import_as_one_process_does(db, tmp_path, capsys):
    """Files converted by several processes come in file order: the same rows, report and lists."""
    federated = {**copy.deepcopy(user("grace")), "id": "7e3c1b1e-0000-4000-8000-000000000001",
                 "username": "ldap-user", "email": "ldap@example.com", "federationLink": "ldap-component"}
    export = write_export(tmp_path / "export", [*all_users(), federated], per_file=1)
    reports = []
    for workers in (1, 3):
        run(export, tenant=f"legacy{workers}", workers=workers)
        reports.append([line for line in capsys.readouterr().out.splitlines() if "seconds:" not in line])
        rows = User.objects.filter(tenant__slug=f"legacy{workers}").order_by("username").values_list(
            "id", "username", "email", "phone_number", "password", "attributes")
        # (a user without a password gets a random unusable one)
        reports[-1].append([(*row[:4], row[4] if not row[4].startswith("!") else "!", row[5]) for row in rows])
        User.objects.filter(tenant__slug=f"legacy{workers}").delete()  # the next run reuses the ids
    assert reports[0] == reports[1]
    assert "users created: 12" in "\n".join(reports[0][:-1])


def test_backslashes_tabs_and_newlines_arrive_as_written(db, tmp_path):
    """COPY's text format gives these characters a meaning: they are escaped on the way."""
    users = copy.deepcopy(all_users())
    ada = next(u for u in users if u["username"] == "ada")
    ada["lastName"] = "Love\\lace\t"
    ada["attributes"]["note"] = ["a\\b\tc\nd\re", "\\N"]
    run(write_export(tmp_path / "export", users))
    imported = User.objects.get(id=ada["id"])
    assert imported.last_name == "Love\\lace\t"
    assert imported.attributes["note"] == ["a\\b\tc\nd\re", "\\N"]


TRICKY_USERS = [
    {"id": "a", "username": "x}, {y", "attributes": {"k": ["}, {", "}]}", '"}, {"', "\\"]},
     "credentials": [{"a": {}}, {"b": {"c": {}}}]},
    {"id": "b", "n": 1.5, "t": 12345678, "u": "ü✓\u0000", "big": 922337203685477580}, {},
    {"id": "c", "nested": [[{}], {"x": [{}, {}]}]},
]


@pytest.mark.parametrize("indent", [None, 0, 2, "\t"])
@pytest.mark.parametrize("users", [[], TRICKY_USERS, TRICKY_USERS * 3000], ids=["none", "tricky", "over-a-block"])
def test_users_files_as_kc_sh_writes_them_are_cut_into_the_users_ijson_reads(tmp_path, indent, users):
    """`_users_as_written` itself (not its fallback) reads every user, as ijson does, whatever the
    whitespace, with separators inside strings and nested objects, and across its read blocks."""
    path = tmp_path / "legacy-users-0.json"
    path.write_text(json.dumps({"realm": "legacy", "users": users}, indent=indent, ensure_ascii=False))
    assert list(export._users_as_written(path)) == list(export.items(path, "users.item")) == users


@pytest.mark.parametrize("text", [
    '{"users": [{"a": 1}], "realm": "legacy"}',  # another order
    '{"realm": "legacy", "users": [{"a": 1}, {"b": 2}], "more": 1}',  # a key after the users
    '{"realm": "legacy", "users": [{"a": 1}, {"b": "\\ud800"}]}',  # a lone surrogate: ijson's "?"
])
def test_other_shapes_are_read_by_ijson_with_the_users_already_read_not_repeated(tmp_path, text):
    path = tmp_path / "legacy-users-0.json"
    path.write_text(text)
    assert list(export.users_in(path)) == list(export.items(path, "users.item"))


@pytest.mark.parametrize("text,message,before", [
    ('{"realm": "legacy", "users": [{"a": 1}, {"b": 123456789012345678901}]}', "integer overflow", 1),
    ('{"realm": "legacy", "users": [{"a": 1}, {"b": 2},]}', "unallowed token", 2),
    ('{"realm": "legacy", "users": [{"a": 1}, {"b": 2}', "premature EOF", 2),
    ('{"realm": "legacy", "users": [{"a": 1}, 3]}', "a user is not a JSON object", 1),
])
def test_what_ijson_refuses_is_refused_after_the_users_ijson_reads_before_it(tmp_path, text, message, before):
    path = tmp_path / "legacy-users-0.json"
    path.write_text(text)
    read = []
    with pytest.raises(export.ExportError, match=message):
        read.extend(export.users_in(path))
    assert read == [{"a": 1}, {"b": 2}][:before]  # once each, as ijson streams them


def test_phone_numbers_already_in_e164_are_stored_as_the_services_store_them(db, tmp_path):
    """E.164 numbers skip the parser when it would return them unchanged; every other spelling, and
    an E.164-looking one the parser would change or refuse, is normalised or refused as the services do."""
    from django.core.exceptions import ValidationError
    from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

    from users import services
    from users.keycloak_import import phone

    def normalised(value):
        try:
            return services.normalise_phone(value)
        except ValidationError:
            return "refused"

    # Every country code, numbers of every E.164 length, some starting as national prefixes do.
    fast = 0
    for country_code in sorted(COUNTRY_CODE_TO_REGION_CODE):
        for length in range(8, 16):
            for start in ("0", "1", "2", "5", "8", "9"):
                national = (start + "4071930206185")[:length - len(str(country_code))]
                value = f"+{country_code}{national}"
                if phone.unchanged_e164(value):
                    fast += 1
                    assert normalised(value) == value, value
    assert fast > 500  # the fast path is taken for most countries' ordinary numbers
    assert phone.unchanged_e164("+15551230001") and not phone.unchanged_e164("+1 555 123 0001")
    assert not phone.unchanged_e164("+4407911123456")  # a national prefix the parser strips

    spellings = {"ada": ("+15551230001", "+15551230001"), "grace": ("+1 (555) 123-0002", "+15551230002"),
                 "sha512-ascii": ("+4407911123456", "+447911123456"), "sha256-unicode": ("+447911123457", "+447911123457")}
    users = copy.deepcopy(all_users())
    for one in users:
        if one["username"] in spellings:
            one.setdefault("attributes", {})["phone_number"] = [spellings[one["username"]][0]]
    run(write_export(tmp_path / "phones", users))
    stored = dict(User.objects.filter(username__in=spellings).values_list("username", "phone_number"))
    assert stored == {name: wanted for name, (_, wanted) in spellings.items()}

    refused = copy.deepcopy(all_users())
    next(u for u in refused if u["username"] == "grace").setdefault("attributes", {})["phone_number"] = ["+999123456789"]
    with pytest.raises(CommandError, match="cannot be imported"):
        run(write_export(tmp_path / "refused", refused), tenant="refused")


def test_a_credential_data_shared_by_users_is_read_for_each_as_written(db, tmp_path):
    """`credentialData` strings are parsed once and shared: each user still gets the hash its own
    credential gives, and a malformed one still names its user."""
    users = copy.deepcopy(all_users())
    run(write_export(tmp_path / "export", users))
    for one in users:
        password = next((c for c in one.get("credentials", []) if c["type"] == "password"), None)
        if password and not one.get("serviceAccountClientId"):
            assert User.objects.get(id=one["id"]).password == from_keycloak(password["secretData"],
                                                                            password["credentialData"])
    broken = next(u for u in users if u["username"] == "grace")
    next(c for c in broken["credentials"] if c["type"] == "password")["credentialData"] = "{not json"
    with pytest.raises(CommandError, match=f"user {broken['id']} \\(grace\\): secretData or credentialData is not JSON"):
        run(write_export(tmp_path / "broken", users), tenant="other")


def test_keep_indexes_leaves_a_large_import_on_the_live_indexes(db, tmp_path, monkeypatch, capsys):
    """`--keep-indexes`: past the threshold too, nothing is dropped, so other tenants' reads never wait."""
    from users.keycloak_import import bulk

    monkeypatch.setattr(bulk, "REBUILD_FROM", 2)
    run(write_export(tmp_path / "export", copy.deepcopy(all_users())), keep_indexes=True)
    out = capsys.readouterr().out
    assert "indexes built after" not in out
    assert User.objects.filter(tenant__slug="legacy").count() >= 2


def test_a_clash_in_a_large_import_is_met_by_the_unique_constraints_built_again_and_listed(
        db, tmp_path, monkeypatch, capsys):
    """Unique values are judged by the constraints, which a large insert drops and builds again as
    unique: the build meets the clash, the writes roll back, and the check then lists the users;
    the report counts nothing written."""
    from users.keycloak_import import bulk

    monkeypatch.setattr(bulk, "REBUILD_FROM", 2)
    users = copy.deepcopy(all_users())
    next(u for u in users if u["username"] == "grace")["email"] = "ada@example.com"
    before = User.objects.count()
    with pytest.raises(CommandError, match="cannot be imported"):
        run(write_export(tmp_path / "clash", users))
    err = capsys.readouterr().err
    assert f"{user('grace')['id']} (grace): another user has the e-mail address ada@example.com" in err
    assert f"{user('ada')['id']} (ada): another user has the e-mail address ada@example.com" in err
    assert "users created" not in err and "refused a write" not in err
    assert User.objects.count() == before and not Tenant.objects.filter(slug="legacy").exists()
    monkeypatch.setattr(load, "_check_unique", lambda *args: None)  # unlisted, still refused
    with pytest.raises(CommandError, match="cannot be imported"):
        run(write_export(tmp_path / "clash", users))
    assert "the database refused a write" in capsys.readouterr().err
    assert User.objects.count() == before


@pytest.mark.parametrize("large", [False, True], ids=["staged", "written-as-read"])
def test_an_id_twice_or_another_tenants_id_is_listed_and_nothing_is_written(db, tmp_path, monkeypatch, capsys, large):
    """A large first import writes its users as it reads them, where the primary key refuses these:
    the run then starts over staged, and lists them as a small one does."""
    from users.keycloak_import import bulk

    run(write_export(tmp_path / "other", [user("ada")]), tenant="other")  # ada's id is another tenant's
    if large:
        monkeypatch.setattr(bulk, "REBUILD_FROM", 2)
        monkeypatch.setattr(load, "BYTES_PER_USER", 64)
    reads, read_users = [], load._read_users
    monkeypatch.setattr(load, "_read_users", lambda *args, **kwargs: reads.append("written" in kwargs)
                        or read_users(*args, **kwargs))
    twice = {**user("grace"), "username": "grace2", "email": "grace2@example.com"}
    before = state()
    with pytest.raises(CommandError, match="cannot be imported"):
        run(write_export(tmp_path / "export", [*all_users(), twice]))
    assert reads == ([True, False] if large else [False])
    err = capsys.readouterr().err
    assert f"{twice['id']} (grace): the export holds this id more than once" in err
    assert f"{user('ada')['id']} (ada): this id is another tenant's user" in err
    assert "users created" not in err
    assert state() == before and not Tenant.objects.filter(slug="legacy").exists()


def test_a_large_export_into_a_tenant_with_users_is_staged_then_written(db, tmp_path, monkeypatch, capsys):
    """Only a tenant with no users has its users written as read; one with users gets the staged
    path, indexes set aside all the same."""
    from users.keycloak_import import bulk

    monkeypatch.setattr(bulk, "REBUILD_FROM", 2)
    monkeypatch.setattr(load, "BYTES_PER_USER", 64)  # every export here counts as large for its bytes
    run(write_export(tmp_path / "first", [user("ada")]))
    run(write_export(tmp_path / "export", all_users()))
    out = capsys.readouterr().out.split("realm legacy")
    assert "read and insert" in out[1]  # into a tenant with no users
    assert "read and stage" in out[2] and "indexes built after the insert" in out[2]
    assert "left alone): 0" in out[2] and "users updated: 0" in out[2]
    User.objects.filter(tenant__slug="legacy").delete()
    run(write_export(tmp_path / "export", all_users()), tenant="legacy")
    out = capsys.readouterr().out
    assert "read and insert" in out and "indexes built after the insert" in out
    assert User.objects.filter(tenant__slug="legacy").count() == sum(1 for u in all_users()
                                                                    if not u.get("serviceAccountClientId"))


def test_a_large_import_builds_the_search_indexes_again_as_they_were(db, tmp_path, monkeypatch, capsys):
    """Past the threshold the written tables' indexes (but their primary keys) and foreign keys are
    dropped for the insert and made again from their own definitions in the same transaction (unique
    constraints as constraints, the keys validated, deferrable as before); a clash still rolls
    everything back, drops included."""
    from users.keycloak_import import bulk

    def definitions():
        with connection.cursor() as cursor:
            cursor.execute("""SELECT indexname, indexdef FROM pg_indexes
                              WHERE tablename IN ('users_user', 'profiles_fanprofile') ORDER BY 1""")
            indexes = cursor.fetchall()
            cursor.execute("""SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid), convalidated
                              FROM pg_constraint WHERE contype IN ('f', 'u', 'p') ORDER BY 1, 2""")
            return indexes, cursor.fetchall()

    before = definitions()
    monkeypatch.setattr(bulk, "REBUILD_FROM", 2)
    users = copy.deepcopy(all_users())
    clash = copy.deepcopy(users)
    next(u for u in clash if u["username"] == "grace")["email"] = "ada@example.com"
    with pytest.raises(CommandError, match="cannot be imported"):
        run(write_export(tmp_path / "clash", clash))
    assert definitions() == before
    run(write_export(tmp_path / "export", users))
    built = sum(not name.endswith("_pkey") for name, _ in before[0])
    assert sum(kind == "u" and table == "users_user" for table, _, kind, *_ in before[1]) >= 2
    keys = sum(kind == "f" and table in ("users_user", "profiles_fanprofile") for table, _, kind, *_ in before[1])
    out = capsys.readouterr().out
    assert f"indexes built after the insert (users locked until commit): {built}" in out
    assert f"foreign keys checked after the insert: {keys}" in out and keys >= 3
    assert definitions() == before
    with connection.cursor() as cursor:  # the rebuilt trigram index finds the imported users
        cursor.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off; "
                       "SET LOCAL enable_indexonlyscan = off")
        query = "SELECT username FROM users_user WHERE username LIKE %s"
        cursor.execute("EXPLAIN " + query, ["%race%"])
        assert "user_username_trgm" in " ".join(row[0] for row in cursor.fetchall())
        cursor.execute(query, ["%race%"])
        assert cursor.fetchall() == [("grace",)]
        cursor.execute("RESET enable_seqscan; RESET enable_indexscan; RESET enable_indexonlyscan")
    run(write_export(tmp_path / "export", users))  # a delta pass creates no user: nothing is dropped
    assert "indexes built after" not in capsys.readouterr().out
