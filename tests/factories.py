import factory

from users import services
from users.models import Group, Role, Tenant, User


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ["slug"]

    slug = factory.Sequence(lambda n: f"brand{n}")
    display_name = factory.LazyAttribute(lambda o: o.slug.title())


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    tenant = factory.SubFactory(TenantFactory)
    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("correct horse battery staple")


class RoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Role

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"role{n}")


class GroupFactory(factory.django.DjangoModelFactory):
    """Built through the service so that `path` is derived as in production."""

    class Meta:
        model = Group

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"group{n}")
    parent = None

    @classmethod
    def _create(cls, model_class, tenant, name, parent=None):
        return services.create_group(tenant, name, parent)


# --- profiles ---------------------------------------------------------------------------------

from profiles import services as profile_services  # noqa: E402
from profiles.models import CelebrityProfile, IndexPageElement, ReferralCode  # noqa: E402


class CelebrityProfileFactory(factory.django.DjangoModelFactory):
    """A user with a celebrity profile, made by the service (so the user gets the celebrity role)."""

    class Meta:
        model = CelebrityProfile

    user = factory.SubFactory(UserFactory, password=None)  # no password: hashing one is the slowest part of a factory
    display_name = factory.LazyAttribute(lambda o: f"{o.user.first_name} {o.user.last_name}")

    @classmethod
    def _create(cls, model_class, user, **fields):
        return profile_services.create_celebrity(user, **fields)


class ReferralCodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReferralCode

    tenant = factory.SubFactory(TenantFactory)
    code = factory.Sequence(lambda n: f"CODE{n}")
    limit = 10


class IndexPageElementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IndexPageElement

    tenant = factory.SubFactory(TenantFactory)
    element_type = "text"
    title = factory.Sequence(lambda n: f"Element {n}")
    position = factory.Sequence(lambda n: n * 10)
