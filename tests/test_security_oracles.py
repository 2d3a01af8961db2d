"""Answers that could tell a caller about data it may not read (README, "Oracles")."""

import uuid

import pytest

from tests.factories import UserFactory
from tests.test_people_access import as_person

pytestmark = pytest.mark.django_db


def test_a_clash_with_another_tenants_user_id_answers_like_any_id_clash(api, tenant, other_tenant):
    """User ids are global primary keys, so a clash is inherent; the answer says nothing more."""
    theirs, ours = UserFactory(tenant=other_tenant), UserFactory(tenant=tenant)
    foreign = api.post("/v1/users", {"id": str(theirs.pk), "username": "probe1"}, format="json")
    own = api.post("/v1/users", {"id": str(ours.pk), "username": "probe2"}, format="json")
    assert foreign.status_code == own.status_code == 409
    assert foreign.json() == own.json()
    message = foreign.json()["fields"]["id"][0]
    assert "exist" not in message and "tenant" not in message  # not "a user exists", nor whose
    assert api.post("/v1/users", {"id": str(uuid.uuid4()), "username": "probe3"}, format="json").status_code == 201


@pytest.mark.parametrize("field, taken, free", [
    ("email", "taken@example.com", "free@example.com"),
    ("phone_number", "+15557652222", "+15557653333"),
])
def test_changing_my_address_or_number_does_not_tell_whether_someone_has_it(tenant, field, taken, free):
    UserFactory(tenant=tenant, email="taken@example.com", email_verified=True, phone_number="+15557652222")
    pending = f"pending_{field}"
    answers = []
    for value in (taken, free):
        r = as_person(UserFactory(tenant=tenant, username=f"asks-{value}")).patch("/v1/me", {field: value},
                                                                                  format="json")
        assert r.status_code == 200, r.content
        answers.append(r.json())
    assert [a[pending] for a in answers] == [taken, free]
    varying = {"id", "username", "email", "first_name", "last_name", "created_at", "updated_at", pending}
    assert [{k: v for k, v in a.items() if k not in varying} for a in answers] == [
        {k: v for k, v in answers[0].items() if k not in varying}] * 2


class TestPublicCelebrityImages:
    @pytest.fixture
    def star(self, papi, tenant):
        user = UserFactory(tenant=tenant, password=None)
        r = papi.post("/v1/celebrities", {"celebrity_user_id": str(user.pk),
                                          "images": [{"url": "https://img.example/a.png",
                                                      "meta_data": '{"uploader_ip": "203.0.113.9"}'}]},
                      format="json")
        assert r.status_code == 201, r.content
        return user

    def test_anonymous_readers_see_images_without_their_metadata(self, anon, star):
        listed = anon.get("/v1/tenants/acme/celebrities").json()["results"][0]["images"]
        detail = anon.get(f"/v1/tenants/acme/celebrities/{star.pk}").json()["images"]
        for images in (listed, detail):
            assert [i["url"] for i in images] == ["https://img.example/a.png"]
            assert all("meta_data" not in i for i in images)

    def test_the_tenants_services_still_read_it(self, reader, star):
        images = reader.get(f"/v1/celebrities/{star.pk}").json()["images"]
        assert images[0]["meta_data"] == '{"uploader_ip": "203.0.113.9"}'
