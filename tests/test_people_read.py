"""Who a person's token speaks for is read in one statement: the user, its roles, its tenant."""

import pytest

from tests.factories import RoleFactory, TenantFactory, UserFactory
from users.queries import active_person

pytestmark = pytest.mark.django_db


def test_one_statement_reads_user_roles_and_tenant(django_assert_num_queries):
    tenant = TenantFactory()
    user = UserFactory(tenant=tenant)
    user.roles.add(RoleFactory(tenant=tenant, name="admin"), RoleFactory(tenant=tenant, name="auditor"))
    with django_assert_num_queries(1):
        person = active_person(tenant.pk, user.pk)
        assert (person.pk, person.username, person.tenant.slug) == (user.pk, user.username, tenant.slug)
        assert person.role_names == ["admin", "auditor"]
        assert not hasattr(person, "group_paths")  # nothing on a request decides by groups


def test_deactivated_or_other_tenants_user_is_nobody():
    tenant, other = TenantFactory(), TenantFactory()
    user = UserFactory(tenant=tenant)
    assert active_person(other.pk, user.pk) is None
    user.is_active = False
    user.save()
    assert active_person(tenant.pk, user.pk) is None


def test_the_person_saves_like_an_orm_read():
    """The row is a real model instance: a write through it touches only its own row."""
    user = UserFactory()
    person = active_person(user.tenant_id, user.pk)
    person.first_name = "Changed"
    person.save(update_fields=["first_name"])
    user.refresh_from_db()
    assert user.first_name == "Changed"
