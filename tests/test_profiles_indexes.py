"""Every filter of the profiles lists can use an index (EXPLAIN with sequential scans disabled)."""

import datetime
import re
import uuid

import pytest
from django.db import connection
from django.db.models import Q

from profiles import search
from profiles.models import CelebrityProfile, FanFollow, FanMedia, IndexPageElement, ReferralCode, follow_id
from tests.factories import CelebrityProfileFactory, ReferralCodeFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(tenant):
    for i in range(3):
        CelebrityProfileFactory(user__tenant=tenant, display_name=f"Star {i}")
    ReferralCodeFactory(tenant=tenant)
    UserFactory(password=None, tenant=tenant)


def plan_of(queryset):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    return queryset.explain()


def assert_indexed(plan, table):
    assert f"Seq Scan on {table}" not in plan, plan
    assert re.search(r"Index (Only )?Scan|Bitmap Index Scan", plan), plan


def celebrities(tenant, deleted=False):
    return CelebrityProfile.objects.filter(tenant=tenant, is_deleted=deleted).order_by("-display_weight", "-user_id")


SHAPES = {
    "list": lambda t: celebrities(t),
    "deleted": lambda t: celebrities(t, deleted=True),
    "status": lambda t: celebrities(t).filter(status="active"),
    "type": lambda t: celebrities(t).filter(celeb_profile_type="expert"),
    "cursor": lambda t: celebrities(t).filter(Q(display_weight__lte=5)
                                              & (Q(display_weight__lt=5) | Q(user_id__lt=uuid.uuid4()))),
    "name substring": lambda t: search.search_names(celebrities(t), "tar"),
    "name prefix": lambda t: search.search_names(celebrities(t), "st"),
    "store code": lambda t: CelebrityProfile.objects.filter(tenant=t, store_code="abc", is_deleted=False),
    "created per day": lambda t: CelebrityProfile.objects.filter(tenant=t, created_on__gte=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)).values("pk"),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_every_celebrity_filter_can_use_an_index(tenant, data, shape):
    assert_indexed(plan_of(SHAPES[shape](tenant)[:10]), "profiles_celebrityprofile")


def test_the_default_list_walks_its_index_in_order_without_a_sort(tenant, data):
    """With sorting priced out, the plan shows that the index alone delivers the list's order."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
    plan = plan_of(celebrities(tenant)[:10])
    assert "Index Scan using celeb_list" in plan and "Sort" not in plan, plan


@pytest.mark.parametrize("queryset, table", [
    (lambda t: ReferralCode.objects.filter(tenant=t).order_by("code"), "profiles_referralcode"),
    (lambda t: ReferralCode.objects.filter(tenant=t, type="a").order_by("code"), "profiles_referralcode"),
    (lambda t: ReferralCode.objects.filter(tenant=t, assigned_to_id=uuid.uuid4()).order_by("code"),
     "profiles_referralcode"),
    (lambda t: ReferralCode.objects.filter(tenant=t, code="X"), "profiles_referralcode"),
    (lambda t: FanFollow.objects.filter(fan_id=uuid.uuid4(), unfollowed_on__isnull=True).order_by("celebrity_id"),
     "profiles_fanfollow"),
    (lambda t: FanFollow.objects.filter(pk__in=[follow_id(uuid.uuid4(), uuid.uuid4())], unfollowed_on__isnull=True),
     "profiles_fanfollow"),
    (lambda t: FanMedia.objects.filter(tenant=t).order_by("id"), "profiles_fanmedia"),
    (lambda t: FanMedia.objects.filter(tenant=t, media_id=uuid.uuid4()).order_by("id"), "profiles_fanmedia"),
    (lambda t: FanMedia.objects.filter(fan_id=uuid.uuid4()).order_by("media_id"), "profiles_fanmedia"),
    (lambda t: IndexPageElement.objects.filter(tenant=t).order_by("position", "id"), "profiles_indexpageelement"),
], ids=["codes", "codes by type", "codes by assignee", "code lookup", "followed", "do I follow", "admin media",
        "admin media by medium", "fan media", "index elements"])
def test_other_lists_can_use_an_index(tenant, data, queryset, table):
    assert_indexed(plan_of(queryset(tenant)[:10]), table)
