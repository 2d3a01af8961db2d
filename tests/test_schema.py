"""The committed OpenAPI schema is the API's contract: a change that forgets it fails here."""

from pathlib import Path

import pytest
from django.core.management import call_command

SCHEMA = Path(__file__).resolve().parent.parent / "identity" / "openapi.yaml"


def test_committed_schema_matches_the_code(tmp_path):
    generated = tmp_path / "openapi.yaml"
    call_command("spectacular", "--file", str(generated), "--validate", "--fail-on-warn")
    assert generated.read_text() == SCHEMA.read_text(), "The API changed: run `make schema` and commit the result."


@pytest.mark.django_db
def test_schema_and_docs_are_served_to_api_clients_and_staff(api, client, admin_user):
    assert api.get("/v1/schema").status_code == 200
    assert client.get("/v1/schema").status_code in (401, 403)
    client.force_login(admin_user)
    assert client.get("/v1/schema").status_code == 200
    assert b"swagger" in client.get("/v1/docs").content.lower()


@pytest.mark.django_db
def test_every_error_answer_has_the_documented_shape(api):
    r = api.post("/v1/users", {"username": "bad name"}, format="json")
    assert set(r.json()) == {"code", "message", "fields"}
    r = api.get("/v1/users/00000000-0000-0000-0000-000000000000")
    assert set(r.json()) == {"code", "message"}
