"""`manage.py import_gen2_profiles`: the celebrity and fan services' tables, built from their ER
diagrams in scratch databases of the test cluster, imported into a tenant."""

import datetime
import hashlib
import io
import uuid

import psycopg
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from profiles import gen2_import
from profiles.models import (
    CelebrityProfile,
    CelebrityProfileBanner,
    CelebrityProfileImage,
    CelebrityProfileShortlink,
    FanFollow,
    FanFollowChange,
    FanMedia,
    FanProfile,
    GlobalPreference,
    ProfileStatusHistory,
    ReferralCode,
)
from tests.factories import CelebrityProfileFactory, UserFactory
from users.models import User

# The diagrams' types: uuid, string (varchar), text, int, boolean, enum, and `date` for moments,
# which the services' JPA entities map to timestamps; `moment` picks which one a database gets.
CELEBRITY_DDL = """
CREATE TYPE celeb_profile_type AS ENUM ('CELEBRITY', 'EXPERT', 'BUSINESS');
CREATE TABLE celebrity_profiles (
    celebrity_user_id uuid PRIMARY KEY, created_on {moment}, bio varchar(4000), display_name varchar(255),
    first_name varchar(255), last_name varchar(255), metadata varchar(4000), status varchar(255),
    store_code varchar(255), display_weight integer, celeb_profile_type celeb_profile_type,
    company_name varchar(255), title varchar(255), profile_video varchar(255), is_deleted boolean,
    deleted_on {moment}, deleted_by_id uuid);
CREATE TABLE celebrity_profile_image (
    id uuid PRIMARY KEY, celebrity_user_id uuid REFERENCES celebrity_profiles, url varchar(255),
    created_on {moment}, meta_data varchar(4000));
CREATE TABLE celebrity_profile_banner (
    id uuid PRIMARY KEY, celebrity_user_id uuid REFERENCES celebrity_profiles, url varchar(255),
    created_on {moment});
CREATE TABLE referral_codes (
    id uuid PRIMARY KEY, code varchar(255) UNIQUE, type varchar(255), "limit" integer, used integer,
    assigned_to uuid);
CREATE TABLE celebrity_profile_shortlinks (
    id uuid PRIMARY KEY, celebrity_user_id uuid REFERENCES celebrity_profiles, name varchar(255),
    body varchar(255));
CREATE TABLE profile_status_history (
    id uuid PRIMARY KEY, celebrity_user_id uuid REFERENCES celebrity_profiles, status varchar(255),
    occurred_on {moment});
"""
FAN_DDL = """
CREATE TYPE preference_type AS ENUM ('DEFAULT_LANGUAGE', 'FOLLOW_NOTIFICATIONS', 'MARKETING_EMAILS',
                                     'FEATURED_CATEGORY', 'SUPPORT_EMAIL');
CREATE TABLE fan_profiles (
    fan_user_id uuid PRIMARY KEY, created_on {moment}, metadata varchar(4000), fan_profile_exclusively boolean);
CREATE TABLE fan_follows (
    id varchar(255) PRIMARY KEY, fan_user_id uuid, celeb_user_id uuid, followed_on {moment},
    followed_metadata varchar(4000), unfollowed_on {moment});
CREATE TABLE fan_follow_changes (
    id uuid PRIMARY KEY, occurred_on {moment}, fan_user_id uuid, celeb_user_id uuid, change varchar(255));
CREATE TABLE fan_media (id uuid PRIMARY KEY, fan uuid REFERENCES fan_profiles, media_id uuid);
CREATE TABLE global_preferences (id uuid PRIMARY KEY, type preference_type, preference_value text);
"""
CELEBRITY_TABLES = ["celebrity_profiles", "celebrity_profile_image", "celebrity_profile_banner", "referral_codes",
                    "celebrity_profile_shortlinks", "profile_status_history"]
FAN_TABLES = ["fan_profiles", "fan_follows", "fan_follow_changes", "fan_media", "global_preferences"]
T0 = datetime.datetime(2024, 3, 1, 9, 30)


def at(days, hours=0):
    return T0 + datetime.timedelta(days=days, hours=hours)


def utc(moment):
    return moment.replace(tzinfo=datetime.UTC)


def md5(fan, celeb):
    return hashlib.md5(f"{fan}{celeb}".encode()).hexdigest()


class Source:
    """A Gen-2 database (or two) in the test cluster, and the rows it was filled with."""

    def __init__(self, dsn_of, moment="timestamp", split=False, schema=None):
        self.rows = {}
        self.celebrity_dsn = dsn_of()
        self.fan_dsn = dsn_of() if split else self.celebrity_dsn
        if schema:  # this test's own statements find the tables through the search path
            for dsn in {self.celebrity_dsn, self.fan_dsn}:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f"CREATE SCHEMA {schema}")
            self.celebrity_dsn, self.fan_dsn = (f"{dsn}?options=-csearch_path%3D{schema}"
                                                for dsn in (self.celebrity_dsn, self.fan_dsn))
        self.execute(CELEBRITY_DDL.format(moment=moment), fan=False)
        self.execute(FAN_DDL.format(moment=moment), fan=True)

    def dsn(self, fan):
        return self.fan_dsn if fan else self.celebrity_dsn

    def execute(self, statement, params=None, fan=False):
        with psycopg.connect(self.dsn(fan), autocommit=True) as conn:
            conn.execute(statement, params)

    def insert(self, table, *rows):
        self.rows.setdefault(table, []).extend(rows)
        columns = list(rows[0])
        names = ", ".join(f'"{c}"' for c in columns)
        with psycopg.connect(self.dsn(table in FAN_TABLES), autocommit=True) as conn:
            conn.cursor().executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})",
                                      [[row[c] for c in columns] for row in rows])


@pytest.fixture
def scratch():
    """Makes databases on the test cluster (through their own connection) and drops them at the end."""
    db = settings.DATABASES["default"]
    server = {"host": db["HOST"], "port": db["PORT"], "user": db["USER"]}
    admin = psycopg.connect(dbname="postgres", password=db["PASSWORD"] or None, autocommit=True, **server)
    made = []

    def make():
        name = f"gen2_{uuid.uuid4().hex[:16]}"
        admin.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
        return f"postgresql://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{name}"

    yield make
    for name in made:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()


class World:
    """The tenant's users, and a Gen-2 data set about them (two people the backend has never heard of)."""

    def __init__(self, tenant, source):
        self.tenant, self.source = tenant, source
        people = {name: UserFactory(tenant=tenant, password=None, username=name)
                  for name in ("ana", "ben", "cleo", "fay", "gus", "hal")}
        self.ids = {name: user.pk for name, user in people.items()}
        self.ids["ghost_celeb"], self.ids["ghost_fan"] = uuid.uuid4(), uuid.uuid4()
        self.missing = {self.ids["ghost_celeb"], self.ids["ghost_fan"]}
        self.fill()

    def __getitem__(self, name):
        return self.ids[name]

    def fill(self):
        i, s = self.ids, self.source
        blank = dict(bio=None, display_name=None, first_name=None, last_name=None, metadata=None, store_code=None,
                     display_weight=None, celeb_profile_type=None, company_name=None, title=None,
                     profile_video=None, is_deleted=None, deleted_on=None, deleted_by_id=None)
        s.insert("celebrity_profiles",
                 {**blank, "celebrity_user_id": i["ana"], "created_on": at(0), "bio": "Sings.",
                  "display_name": "Ana Star", "first_name": "Ana", "last_name": "Star", "metadata": '{"genre":"pop"}',
                  "status": "ACTIVE", "store_code": "ANA", "display_weight": 10, "celeb_profile_type": "CELEBRITY",
                  "company_name": "", "title": "Singer", "profile_video": "https://video.example/ana.mp4",
                  "is_deleted": False},
                 {**blank, "celebrity_user_id": i["ben"], "created_on": at(1), "bio": "Coaches.",
                  "display_name": "Ben Coach", "first_name": "Ben", "last_name": "Coach", "status": "INACTIVE",
                  "display_weight": 5, "celeb_profile_type": "EXPERT", "company_name": "Acme Coaching",
                  "title": "Coach", "is_deleted": True, "deleted_on": at(20), "deleted_by_id": uuid.uuid4()},
                 {**blank, "celebrity_user_id": i["cleo"], "created_on": at(2), "display_name": "Cleo Co",
                  "status": "PENDING", "store_code": "", "celeb_profile_type": "BUSINESS", "is_deleted": False},
                 {**blank, "celebrity_user_id": i["ghost_celeb"], "created_on": at(3), "display_name": "Ghost",
                  "status": "ACTIVE", "celeb_profile_type": "CELEBRITY", "is_deleted": False})
        s.insert("celebrity_profile_image",
                 {"id": uuid.uuid4(), "celebrity_user_id": i["ana"], "url": "https://cdn.example/ana-1.jpg",
                  "created_on": at(0, 1), "meta_data": '{"w":800}'},
                 {"id": uuid.uuid4(), "celebrity_user_id": i["ana"], "url": "https://cdn.example/ana-2.jpg",
                  "created_on": at(0, 2), "meta_data": None},
                 {"id": uuid.uuid4(), "celebrity_user_id": i["ghost_celeb"], "url": "https://cdn.example/g.jpg",
                  "created_on": at(3), "meta_data": None})
        s.insert("celebrity_profile_banner",
                 {"id": uuid.uuid4(), "celebrity_user_id": i["ana"], "url": "https://cdn.example/ana-b.jpg",
                  "created_on": at(0, 3)},
                 {"id": uuid.uuid4(), "celebrity_user_id": i["ben"], "url": "https://cdn.example/ben-b.jpg",
                  "created_on": at(1, 3)})
        s.insert("celebrity_profile_shortlinks",
                 {"id": uuid.uuid4(), "celebrity_user_id": i["ana"], "name": "instagram",
                  "body": "https://instagram.example/ana"},
                 {"id": uuid.uuid4(), "celebrity_user_id": i["ana"], "name": "tickets",
                  "body": "https://tickets.example/ana"},
                 {"id": uuid.uuid4(), "celebrity_user_id": i["ben"], "name": "site", "body": "https://ben.example"})
        s.insert("profile_status_history",
                 {"id": uuid.uuid4(), "celebrity_user_id": i["ana"], "status": "PENDING", "occurred_on": at(0)},
                 {"id": uuid.uuid4(), "celebrity_user_id": i["ana"], "status": "ACTIVE", "occurred_on": at(1)},
                 {"id": uuid.uuid4(), "celebrity_user_id": i["ben"], "status": "PENDING", "occurred_on": at(1)},
                 {"id": uuid.uuid4(), "celebrity_user_id": i["ben"], "status": "ACTIVE", "occurred_on": at(2)},
                 {"id": uuid.uuid4(), "celebrity_user_id": i["ben"], "status": "INACTIVE", "occurred_on": at(19)},
                 {"id": uuid.uuid4(), "celebrity_user_id": i["ghost_celeb"], "status": "ACTIVE", "occurred_on": at(3)})
        s.insert("referral_codes",
                 {"id": uuid.uuid4(), "code": "welcome10", "type": "DISCOUNT", "limit": 100, "used": 3,
                  "assigned_to": i["ana"]},
                 {"id": uuid.uuid4(), "code": "VIP", "type": None, "limit": 5, "used": 5, "assigned_to": None},
                 {"id": uuid.uuid4(), "code": "LOST", "type": "PROMO", "limit": 1, "used": None,
                  "assigned_to": i["ghost_celeb"]})
        s.insert("fan_profiles",
                 *({"fan_user_id": i[name], "created_on": at(-10 + n), "metadata": f'{{"n":{n}}}',
                    "fan_profile_exclusively": n % 2 == 0} for n, name in enumerate(["ana", "fay", "gus", "hal"])),
                 {"fan_user_id": i["ghost_fan"], "created_on": at(-1), "metadata": None,
                  "fan_profile_exclusively": None})

        def follow(fan, celeb, day, unfollowed=None):
            return {"id": md5(i[fan], i[celeb]), "fan_user_id": i[fan], "celeb_user_id": i[celeb],
                    "followed_on": at(day), "followed_metadata": f"from {fan}", "unfollowed_on": unfollowed}

        s.insert("fan_follows", follow("fay", "ana", 4), follow("fay", "ben", 4), follow("gus", "ana", 5),
                 follow("gus", "ben", 5, unfollowed=at(6)), follow("hal", "ana", 7), follow("ghost_fan", "ana", 7),
                 follow("fay", "ghost_celeb", 8))

        def change(fan, celeb, day, what):
            return {"id": uuid.uuid4(), "occurred_on": at(day), "fan_user_id": i[fan], "celeb_user_id": i[celeb],
                    "change": what}

        s.insert("fan_follow_changes", change("fay", "ana", 4, "FOLLOW"), change("fay", "ben", 4, "FOLLOW"),
                 change("gus", "ana", 5, "FOLLOWED"), change("gus", "ben", 5, "FOLLOWED"),
                 change("gus", "ben", 6, "UNFOLLOWED"), change("hal", "ana", 7, "follow"),
                 change("ghost_fan", "ana", 7, "FOLLOW"))
        media = [uuid.uuid4() for _ in range(3)]
        s.insert("fan_media", {"id": uuid.uuid4(), "fan": i["fay"], "media_id": media[0]},
                 {"id": uuid.uuid4(), "fan": i["fay"], "media_id": media[1]},
                 {"id": uuid.uuid4(), "fan": i["gus"], "media_id": media[0]},
                 {"id": uuid.uuid4(), "fan": i["ghost_fan"], "media_id": media[2]})
        s.insert("global_preferences", {"id": uuid.uuid4(), "type": "DEFAULT_LANGUAGE", "preference_value": "en"},
                 {"id": uuid.uuid4(), "type": "SUPPORT_EMAIL", "preference_value": "help@acme.example"})

    def imports(self, *extra, **kwargs):
        out = io.StringIO()
        args = ["--dsn", self.source.celebrity_dsn, "--tenant", self.tenant.slug, *extra]
        if self.source.fan_dsn != self.source.celebrity_dsn:
            args += ["--fan-dsn", self.source.fan_dsn]
        call_command("import_gen2_profiles", *args, stdout=out, **kwargs)
        return out.getvalue()


@pytest.fixture
def world(tenant, scratch):
    return World(tenant, Source(scratch))


MODELS = [CelebrityProfile, CelebrityProfileImage, CelebrityProfileBanner, CelebrityProfileShortlink,
          ProfileStatusHistory, ReferralCode, FanProfile, FanFollow, FanFollowChange, FanMedia, GlobalPreference]


def snapshot():
    """Every row the import could touch, the users' roles and the audit trail."""
    rows = {model.__name__: list(model.objects.order_by("pk").values()) for model in MODELS}
    rows["roles"] = sorted(User.roles.through.objects.values_list("user_id", "role__name"))
    rows["audit"] = list(AuditEvent.objects.order_by("pk").values_list("pk", "action"))
    return rows


def by_id(rows, key="id"):
    return {row[key]: row for row in rows}


def assert_imported(world):
    """Every source row the backend could take is in it, column by column; the others are not."""
    rows, i, missing = world.source.rows, world.ids, world.missing
    celebs = {r["celebrity_user_id"]: r for r in rows["celebrity_profiles"] if r["celebrity_user_id"] not in missing}
    assert set(CelebrityProfile.objects.values_list("pk", flat=True)) == set(celebs)
    for pk, r in celebs.items():
        p = CelebrityProfile.objects.get(pk=pk)
        assert p.tenant == world.tenant
        assert (p.created_on, p.bio, p.display_name, p.first_name, p.last_name, p.metadata) == (
            utc(r["created_on"]), r["bio"] or "", r["display_name"] or "", r["first_name"] or "",
            r["last_name"] or "", r["metadata"] or "")
        assert (p.status, p.store_code, p.display_weight, p.celeb_profile_type, p.company_name, p.title,
                p.profile_video) == (r["status"].lower(), r["store_code"] or None, r["display_weight"] or 0,
                                     r["celeb_profile_type"].lower(), r["company_name"] or "", r["title"] or "",
                                     r["profile_video"] or "")
        assert (p.is_deleted, p.deleted_on, p.deleted_by_id) == (
            r["is_deleted"], r["deleted_on"] and utc(r["deleted_on"]), r["deleted_by_id"])
        assert p.user.roles.filter(name="celebrity").exists()

    images = by_id(CelebrityProfileImage.objects.values())
    expected = [r for r in rows["celebrity_profile_image"] if r["celebrity_user_id"] in celebs]
    assert set(images) == {r["id"] for r in expected}
    for r in expected:
        assert images[r["id"]] == {"id": r["id"], "celebrity_id": r["celebrity_user_id"], "url": r["url"],
                                   "created_on": utc(r["created_on"]), "meta_data": r["meta_data"] or ""}
    banners = by_id(CelebrityProfileBanner.objects.values())
    assert banners == {r["id"]: {"id": r["id"], "celebrity_id": r["celebrity_user_id"], "url": r["url"],
                                 "created_on": utc(r["created_on"])} for r in rows["celebrity_profile_banner"]}
    links = by_id(CelebrityProfileShortlink.objects.values())
    assert links == {r["id"]: {"id": r["id"], "celebrity_id": r["celebrity_user_id"], "name": r["name"],
                               "body": r["body"]} for r in rows["celebrity_profile_shortlinks"]}

    history = by_id(ProfileStatusHistory.objects.values())
    expected = {r["id"]: {"id": r["id"], "celebrity_id": r["celebrity_user_id"], "status": r["status"].lower(),
                          "occurred_on": utc(r["occurred_on"])}
                for r in rows["profile_status_history"] if r["celebrity_user_id"] in celebs}
    # Cleo came without history: she gets the row of her first status, at her creation.
    initial = uuid.UUID(hashlib.md5(f"initial status of {i['cleo']}".encode()).hexdigest())
    expected[initial] = {"id": initial, "celebrity_id": i["cleo"], "status": "pending",
                         "occurred_on": CelebrityProfile.objects.get(pk=i["cleo"]).created_on}
    assert history == expected

    codes = by_id(ReferralCode.objects.values())
    assert {pk: (c["tenant_id"], c["code"], c["type"], c["limit"], c["used"], c["assigned_to_id"])
            for pk, c in codes.items()} == {
        r["id"]: (world.tenant.pk, r["code"].upper(), r["type"] or "", r["limit"], r["used"] or 0,
                  r["assigned_to"] if r["assigned_to"] in celebs else None) for r in rows["referral_codes"]}

    fans = {r["fan_user_id"]: r for r in rows["fan_profiles"] if r["fan_user_id"] not in missing}
    for pk, r in fans.items():
        f = FanProfile.objects.get(pk=pk)
        assert (f.tenant, f.created_on, f.metadata, f.fan_profile_exclusively) == (
            world.tenant, utc(r["created_on"]), r["metadata"] or "", bool(r["fan_profile_exclusively"]))
    assert not FanProfile.objects.filter(pk__in=missing).exists()

    follows = by_id(FanFollow.objects.values())
    expected = [r for r in rows["fan_follows"] if r["fan_user_id"] not in missing and r["celeb_user_id"] not in missing]
    assert follows == {r["id"]: {"id": r["id"], "fan_id": r["fan_user_id"], "celebrity_id": r["celeb_user_id"],
                                 "followed_on": utc(r["followed_on"]), "followed_metadata": r["followed_metadata"],
                                 "unfollowed_on": r["unfollowed_on"] and utc(r["unfollowed_on"])} for r in expected}
    changes = by_id(FanFollowChange.objects.values())
    verbs = {"follow": "follow", "followed": "follow", "unfollow": "unfollow", "unfollowed": "unfollow"}
    assert changes == {r["id"]: {"id": r["id"], "occurred_on": utc(r["occurred_on"]), "fan_id": r["fan_user_id"],
                                 "celebrity_id": r["celeb_user_id"], "change": verbs[r["change"].lower()]}
                       for r in rows["fan_follow_changes"] if r["fan_user_id"] not in missing}
    media = by_id(FanMedia.objects.values())
    assert {pk: (m["tenant_id"], m["fan_id"], m["media_id"]) for pk, m in media.items()} == {
        r["id"]: (world.tenant.pk, r["fan"], r["media_id"]) for r in rows["fan_media"] if r["fan"] not in missing}
    preferences = by_id(GlobalPreference.objects.values())
    assert preferences == {r["id"]: {"id": r["id"], "tenant_id": world.tenant.pk, "type": r["type"].lower(),
                                     "preference_value": r["preference_value"]} for r in rows["global_preferences"]}

    # Each counter is the backend's active follows.
    for profile in CelebrityProfile.objects.all():
        active = sum(1 for f in follows.values() if f["celebrity_id"] == profile.pk and f["unfollowed_on"] is None)
        assert profile.follower_count == active


def test_imports_every_table_keeping_ids_and_reports_what_it_could_not(world):
    output = world.imports()

    assert_imported(world)
    counts = {p.pk: p.follower_count for p in CelebrityProfile.objects.all()}
    assert counts == {world["ana"]: 3, world["ben"]: 1, world["cleo"]: 0}
    lines = output.splitlines()
    table = {line.split()[0]: [int(n) for n in line.split()[1:]] for line in lines
             if line.split() and line.split()[0] in {t.source for t in gen2_import.TABLES} and len(line.split()) == 6}
    #                                      read inserted updated unchanged skipped
    assert table["celebrity_profiles"] == [4, 3, 0, 0, 1]
    assert table["celebrity_profile_image"] == [3, 2, 0, 0, 1]
    assert table["profile_status_history"] == [6, 5, 0, 0, 1]
    assert table["referral_codes"] == [3, 3, 0, 0, 0]
    # The users' own fan profiles existed (every user has one): the source's values replace theirs.
    assert table["fan_profiles"] == [5, 0, 4, 0, 1]
    assert table["fan_follows"] == [7, 5, 0, 0, 2]
    assert table["fan_follow_changes"] == [7, 6, 0, 0, 1]
    assert table["fan_media"] == [4, 3, 0, 0, 1]
    assert table["global_preferences"] == [2, 2, 0, 0, 0]
    assert "missing users: 2" in output
    assert f"{world['ghost_celeb']} (named in celebrity_profiles, celebrity_profile_image, " \
           "profile_status_history, referral_codes, fan_follows)" in output
    assert f"{world['ghost_fan']} (named in fan_profiles, fan_follows, fan_follow_changes, fan_media)" in output
    assert f"fan_follows {md5(world['ghost_fan'], world['ana'])}: fan_user_id: the user {world['ghost_fan']} " \
           "is not in the backend" in output
    assert "referral codes imported unassigned: 1" in output
    # Ana has four active followers in the source, one of them unknown to the backend.
    assert f"{world['ana']}: source 4, backend 3" in output
    assert "status history rows added: 1" in output
    event = AuditEvent.objects.get(action=gen2_import.AUDIT_ACTION)
    assert event.tenant == world.tenant and event.changes["celebrity_profiles"] == {"new": {"inserted": 3,
                                                                                            "updated": 0}}


def test_a_second_run_changes_nothing_and_a_changed_source_updates_in_place(world):
    world.imports()
    before = snapshot()

    output = world.imports()

    assert snapshot() == before
    assert "follower counters set: 0; status history rows added: 0; celebrity roles granted: 0" in output

    # The delta pass: Fay unfollowed Ana, Ana renamed herself, Hal saved a medium.
    i, s = world.ids, world.source
    s.execute("UPDATE fan_follows SET unfollowed_on = %s WHERE id = %s", (at(30), md5(i["fay"], i["ana"])), fan=True)
    s.rows["fan_follows"][0]["unfollowed_on"] = at(30)
    s.execute("UPDATE celebrity_profiles SET display_name = 'Ana S.' WHERE celebrity_user_id = %s", (i["ana"],))
    s.rows["celebrity_profiles"][0]["display_name"] = "Ana S."
    s.insert("fan_media", {"id": uuid.uuid4(), "fan": i["hal"], "media_id": uuid.uuid4()})

    output = world.imports()

    assert_imported(world)
    assert CelebrityProfile.objects.get(pk=i["ana"]).follower_count == 2
    lines = {line.split()[0]: line.split()[1:] for line in output.splitlines() if len(line.split()) == 6}
    assert lines["celebrity_profiles"] == ["4", "0", "1", "2", "1"]
    assert lines["fan_follows"] == ["7", "0", "1", "4", "2"]
    assert lines["fan_media"] == ["5", "1", "0", "3", "1"]
    assert "follower counters set: 1;" in output


def test_a_dry_run_counts_and_rolls_back(world):
    before = snapshot()

    output = world.imports("--dry-run")

    assert snapshot() == before
    assert "dry run: everything was rolled back." in output
    assert "missing users: 2" in output


def test_moments_stored_as_dates_in_two_databases_and_another_schema(tenant, scratch):
    world = World(tenant, Source(scratch, moment="date", split=True, schema="gen2"))

    world.imports("--schema", "gen2")

    for rows in world.source.rows.values():  # what the date columns kept of each moment
        for row in rows:
            for column, value in row.items():
                if isinstance(value, datetime.datetime):
                    row[column] = datetime.datetime.combine(value.date(), datetime.time())
    assert_imported(world)
    midnight = datetime.datetime(2024, 3, 1, tzinfo=datetime.UTC)
    assert CelebrityProfile.objects.get(pk=world["ana"]).created_on == midnight


def failing(world, *extra):
    """Runs the import, which must fail with a CommandError and leave the backend as it was."""
    before = snapshot()
    with pytest.raises(CommandError) as raised:
        world.imports(*extra)
    assert snapshot() == before
    return str(raised.value)


def test_an_unreachable_source_or_unknown_tenant_is_a_clear_error(world):
    db = settings.DATABASES["default"]
    world.source.celebrity_dsn = world.source.fan_dsn = f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/nowhere"
    message = failing(world)
    assert message.startswith(f"Cannot read the source database {db['USER']}@{db['HOST']}:{db['PORT']}/nowhere:")
    assert 'database "nowhere" does not exist' in message

    world.source.celebrity_dsn = world.source.fan_dsn = "host=127.0.0.1 port=1 user=x password=secret dbname=y"
    message = failing(world)
    assert message.startswith("Cannot read the source database x@127.0.0.1:1/y:") and "secret" not in message

    with pytest.raises(CommandError, match="There is no tenant 'nobody'"):
        call_command("import_gen2_profiles", "--dsn", "postgresql://x@127.0.0.1/y", "--tenant", "nobody")


def test_a_missing_table_or_column_is_a_clear_error(world):
    world.imports()
    world.source.execute("DROP TABLE fan_media", fan=True)
    assert failing(world) == f"The source database {gen2_import.describe(world.source.fan_dsn)} has no table " \
                             "public.fan_media."

    world.source.execute("ALTER TABLE celebrity_profiles DROP COLUMN store_code")
    assert failing(world) == "The source table public.celebrity_profiles lacks the column(s) store_code."


def test_invalid_rows_fail_the_run_naming_table_and_row(world):
    i, s = world.ids, world.source
    s.execute("UPDATE celebrity_profiles SET status = 'ARCHIVED' WHERE celebrity_user_id = %s", (i["cleo"],))
    wrong = md5(i["ana"], i["hal"])  # the celebrity's id first: not how the ids are made
    s.execute("UPDATE fan_follows SET id = %s WHERE id = %s", (wrong, md5(i["hal"], i["ana"])), fan=True)
    s.execute("UPDATE referral_codes SET used = 7 WHERE code = 'VIP'")
    vip = next(r["id"] for r in s.rows["referral_codes"] if r["code"] == "VIP")
    # A table without its primary key, holding one row twice.
    s.execute("ALTER TABLE fan_media DROP CONSTRAINT fan_media_pkey", fan=True)
    twice = s.rows["fan_media"][0]
    s.execute("INSERT INTO fan_media VALUES (%s, %s, %s)", (twice["id"], twice["fan"], twice["media_id"]), fan=True)

    message = failing(world)

    assert message.splitlines() == [
        "Nothing was imported: the backend is unchanged.",
        "5 invalid source row(s):",
        f"  celebrity_profiles {i['cleo']}: status 'archived' is not one of pending, active, inactive",
        f"  referral_codes {vip}: limit and used must be 0 or more, and used at most limit",
        f"  fan_follows {wrong}: id is not md5(fan_user_id || celeb_user_id) = {md5(i['hal'], i['ana'])}",
        f"  fan_media {twice['id']}: the id appears more than once in the source",
        f"  fan_media {twice['id']}: the id appears more than once in the source",
    ]


def test_conflicts_with_the_backend_fail_the_run_and_are_listed(world, other_tenant):
    world.imports()
    i, s = world.ids, world.source
    # Another celebrity of the tenant took Ana's store code after the first pass.
    other = CelebrityProfileFactory(user__tenant=world.tenant)
    CelebrityProfile.objects.filter(pk=i["ana"]).update(store_code="ANA-OLD")
    CelebrityProfile.objects.filter(pk=other.pk).update(store_code="ANA")
    # A profile whose user is another tenant's, and a shortlink name twice for one celebrity.
    stranger = UserFactory(tenant=other_tenant, password=None)
    s.insert("celebrity_profiles", {"celebrity_user_id": stranger.pk, "created_on": at(9), "status": "ACTIVE"})
    twin = uuid.uuid4()
    s.insert("celebrity_profile_shortlinks", {"id": twin, "celebrity_user_id": i["ben"], "name": "site",
                                              "body": "https://ben.example/2"})
    first_site = s.rows["celebrity_profile_shortlinks"][2]["id"]

    message = failing(world)

    lines = message.splitlines()
    assert lines[:2] == ["Nothing was imported: the backend is unchanged.",
                         "4 conflict(s) with the backend or within the source:"]
    assert sorted(lines[2:]) == sorted([
        f"  celebrity_profiles {i['ana']}: store_code 'ANA' is held by {other.pk} in the backend",
        f"  celebrity_profiles {stranger.pk}: celebrity_user_id: the user {stranger.pk} is of another tenant",
        f"  celebrity_profile_shortlinks {first_site}: celebrity_user_id, name '{i['ben']}', 'site' appears more "
        "than once in the source",
        f"  celebrity_profile_shortlinks {twin}: celebrity_user_id, name '{i['ben']}', 'site' appears more than "
        "once in the source",
    ])
