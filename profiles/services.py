"""Domain operations on celebrity and fan profiles: the only place that writes `profiles` models.

Every state change of the former Celebrity and Fan services passes through one function here, so
that each event can be emitted from one place, inside the same transaction:

| event                                 | emitted by                                   |
|---------------------------------------|----------------------------------------------|
| CelebrityProfileCreated               | `create_celebrity`                           |
| CelebrityProfileUpdated               | `update_celebrity`, `set_store_code`, `create_shortlink` |
| CelebrityProfileSoftDeleteFlagToggled | `toggle_celebrity_deleted`, `restore_celebrity` |
| FanProfileCreated                     | `create_fan_profile`                         |
| CelebrityFollowed                     | `follow_celebrity` (when it changes state)   |
| CelebrityUnfollowed                   | `unfollow_celebrity` (when it changes state) |

Recorded functions publish through the audit trail's listener (`events.outbox`); the others call
`events.outbox` themselves. The SSE commands go out with them: `CreateSseGroup` with a new
celebrity, `AddUserToSseGroup` with a follow. As in `users.services`, field problems raise Django's
`ValidationError` keyed by field, uniqueness is decided by database constraints and surfaces as
`identity.errors.Conflict`, and nothing here knows about HTTP.
"""

import datetime
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F
from django.db.models.functions import TruncDate
from django.utils import timezone

from audit.recording import RESULT, recorded
from events import outbox
from users import services as user_services
from users.models import Role, Tenant, User
from identity.db_routing import read_replica
from identity.errors import Conflict

from .models import (
    CelebrityProfile,
    CelebrityProfileBanner,
    CelebrityProfileImage,
    CelebrityProfileShortlink,
    FanFollow,
    FanFollowChange,
    FanMedia,
    FanProfile,
    FollowChange,
    GlobalPreference,
    IndexPageElement,
    ProfileStatusHistory,
    ReferralCode,
    follow_id,
)


CELEBRITY_ROLE = "celebrity"
MAX_ANALYTICS_DAYS = 366
MAX_CHECKED_CELEBRITIES = 500

# Constraint name -> (API field, message).
_STORE_CODE = ("store_code", "Another celebrity of this tenant has this store code.")
_PROFILE = ("celebrity_user_id", "This user already has a celebrity profile.")
_SHORTLINK = ("name", "This celebrity already has a short link of this name.")
_CODE = ("code", "This referral code already exists in this tenant.")
_CONFLICTS = {
    "celeb_store_code_per_tenant": _STORE_CODE,
    "profiles_celebrityprofile_pkey": _PROFILE,
    "shortlink_name_per_celebrity": _SHORTLINK,
    "referral_code_per_tenant": _CODE,
}


def _save(instance, **kwargs):
    return user_services.save_unique(instance, _CONFLICTS, **kwargs)


def tenant_user(tenant: Tenant, user_id) -> User:
    user = User.objects.filter(tenant=tenant, pk=user_id).first()
    if user is None:
        raise ValidationError({"celebrity_user_id": "No such user in this tenant."})
    return user


# --- celebrity profiles -----------------------------------------------------------------------

CELEBRITY_FIELDS = {
    "bio", "display_name", "first_name", "last_name", "metadata", "status", "display_weight",
    "celeb_profile_type", "company_name", "title", "profile_video",
}


def _record_status(profile: CelebrityProfile, when):
    ProfileStatusHistory.objects.create(celebrity=profile, status=profile.status, occurred_on=when)


def _celebrity_role(tenant: Tenant) -> Role:
    role = Role.objects.filter(tenant=tenant, name=CELEBRITY_ROLE).first()
    if role is None:
        try:
            role = user_services.create_role(tenant, CELEBRITY_ROLE, "Has a celebrity profile.")
        except Conflict:  # created concurrently
            role = Role.objects.get(tenant=tenant, name=CELEBRITY_ROLE)
    return role


@transaction.atomic
@recorded("celebrity.created")
def create_celebrity(user: User, *, images=None, banners=None, **fields) -> CelebrityProfile:
    """createCelebrity: a profile for an existing user, who gets the tenant's `celebrity` role.

    The store code defaults to none; `set_store_code` gives one. First and last names default to
    the user's. [CelebrityProfileCreated]
    """
    unknown = set(fields) - CELEBRITY_FIELDS - {"store_code"}
    if unknown:
        raise ValidationError({name: "Unknown field." for name in unknown})
    fields.setdefault("first_name", user.first_name)
    fields.setdefault("last_name", user.last_name)
    fields.setdefault("display_name", f"{fields['first_name']} {fields['last_name']}".strip() or user.username)
    profile = CelebrityProfile(user=user, tenant_id=user.tenant_id, **fields)
    _save(profile, force_insert=True)
    _record_status(profile, profile.created_on)
    _replace_pictures(profile, images, banners)
    user_services.add_user_role(user, _celebrity_role(user.tenant))
    return profile


def _replace_pictures(profile: CelebrityProfile, images, banners):
    if images is not None:
        profile.images.all().delete()
        CelebrityProfileImage.objects.bulk_create(
            CelebrityProfileImage(celebrity=profile, url=i["url"], meta_data=i.get("meta_data", "")) for i in images
        )
    if banners is not None:
        profile.banners.all().delete()
        CelebrityProfileBanner.objects.bulk_create(CelebrityProfileBanner(celebrity=profile, url=b["url"])
                                                   for b in banners)


@transaction.atomic
@recorded("celebrity.updated", given=["images", "banners"])
def update_celebrity(profile: CelebrityProfile, changes: dict, *, images=None, banners=None) -> CelebrityProfile:
    """updateCelebProfile: change the given fields; `images`/`banners`, when given, replace the lists.

    A status change appends a row to the profile's status history. [CelebrityProfileUpdated]
    """
    unknown = set(changes) - CELEBRITY_FIELDS
    if unknown:
        raise ValidationError({name: "Unknown field." for name in unknown})
    old_status = CelebrityProfile.objects.select_for_update().values_list("status", flat=True).get(pk=profile.pk)
    for name, value in changes.items():
        setattr(profile, name, value)
    if changes:  # named fields only: a full save would write back a stale follower count
        _save(profile, update_fields=list(changes))
    if profile.status != old_status:
        _record_status(profile, timezone.now())
    _replace_pictures(profile, images, banners)
    return profile


@recorded("celebrity.updated")
def set_store_code(profile: CelebrityProfile, store_code: str | None) -> CelebrityProfile:
    """setStoreCode: unique within the tenant (409 otherwise); none clears it. [CelebrityProfileUpdated]"""
    profile.store_code = store_code or None
    return _save(profile, update_fields=["store_code"])


@recorded("celebrity_shortlink.created")
def create_shortlink(profile: CelebrityProfile, name: str, body: str) -> CelebrityProfileShortlink:
    """createShortLink. [CelebrityProfileUpdated]"""
    return _save(CelebrityProfileShortlink(celebrity=profile, name=name, body=body))


@transaction.atomic
@recorded("celebrity.deletion_toggled")
def toggle_celebrity_deleted(profile: CelebrityProfile, by_id=None) -> CelebrityProfile:
    """toggleCelebrityProfileDelete: soft delete (who and when), or undo it. [...SoftDeleteFlagToggled]"""
    locked = CelebrityProfile.objects.select_for_update().only("is_deleted").get(pk=profile.pk)
    _set_deleted(profile, not locked.is_deleted, by_id)
    return profile


@recorded("celebrity.restored")
def restore_celebrity(profile: CelebrityProfile) -> CelebrityProfile:
    """Undo a soft delete; nothing happens to a profile that is not deleted. [...SoftDeleteFlagToggled]"""
    with transaction.atomic():
        locked = CelebrityProfile.objects.select_for_update().only("is_deleted").get(pk=profile.pk)
        if locked.is_deleted:
            _set_deleted(profile, False, None)
    return profile


def _set_deleted(profile: CelebrityProfile, deleted: bool, by_id):
    profile.is_deleted = deleted
    profile.deleted_on = timezone.now() if deleted else None
    profile.deleted_by_id = by_id if deleted else None
    profile.save(update_fields=["is_deleted", "deleted_on", "deleted_by_id"])


def celebrity_counts(tenant: Tenant) -> dict:
    """Non-deleted profiles by status and by type (grouped counts, on request only; from a replica
    when there is one, as every count)."""
    rows = (CelebrityProfile.objects.using(read_replica()).filter(tenant=tenant, is_deleted=False)
            .values("status", "celeb_profile_type").annotate(n=Count("*")).order_by())
    by_status, by_type, total = {}, {}, 0
    for row in rows:
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["n"]
        by_type[row["celeb_profile_type"]] = by_type.get(row["celeb_profile_type"], 0) + row["n"]
        total += row["n"]
    return {"total": total, "by_status": by_status, "by_type": by_type}


def new_celebrities_per_day(tenant: Tenant, since: datetime.date, until: datetime.date) -> list[dict]:
    """Profiles created on each day of [since, until] (UTC days, deleted ones included, zeros shown)."""
    if until < since:
        raise ValidationError({"until": "Must not be before `since`."})
    days = (until - since).days + 1
    if days > MAX_ANALYTICS_DAYS:
        raise ValidationError({"until": f"A range has at most {MAX_ANALYTICS_DAYS} days."})
    start = datetime.datetime.combine(since, datetime.time.min, tzinfo=datetime.UTC)
    end = start + datetime.timedelta(days=days)
    rows = (CelebrityProfile.objects.using(read_replica()).filter(tenant=tenant, created_on__gte=start, created_on__lt=end)
            .annotate(day=TruncDate("created_on", tzinfo=datetime.UTC)).values("day")
            .annotate(n=Count("*")).order_by())
    counts = {row["day"]: row["n"] for row in rows}
    return [{"date": since + datetime.timedelta(days=i), "count": counts.get(since + datetime.timedelta(days=i), 0)}
            for i in range(days)]


# --- referral codes ---------------------------------------------------------------------------


def _assignee(tenant: Tenant, celebrity_user_id) -> CelebrityProfile | None:
    if celebrity_user_id is None:
        return None
    profile = CelebrityProfile.objects.filter(tenant=tenant, pk=celebrity_user_id).first()
    if profile is None:
        raise ValidationError({"assigned_to": "No such celebrity profile in this tenant."})
    return profile


@recorded("referral_code.created")
def create_referral_code(tenant: Tenant, *, code: str, limit: int, type: str = "", assigned_to=None) -> ReferralCode:
    return _save(ReferralCode(tenant=tenant, code=code, limit=limit, type=type,
                              assigned_to=_assignee(tenant, assigned_to)))


@transaction.atomic
@recorded("referral_code.updated")
def update_referral_code(referral: ReferralCode, changes: dict) -> ReferralCode:
    """Change code, type, limit or assignee; a limit below what was already used is refused."""
    locked = ReferralCode.objects.select_for_update().get(pk=referral.pk)
    if "assigned_to" in changes:
        changes["assigned_to"] = _assignee(referral.tenant, changes["assigned_to"])
    limit = changes.get("limit", locked.limit)
    if limit < locked.used:
        raise ValidationError({"limit": f"This code was used {locked.used} times already: the limit cannot be lower."})
    for name, value in changes.items():
        setattr(referral, name, value)
    referral.used = locked.used
    return _save(referral, update_fields=list(changes)) if changes else referral


@recorded("referral_code.deleted")
def delete_referral_code(referral: ReferralCode):
    referral.delete()


@recorded("referral_code.assigned")
def assign_referral_code(referral: ReferralCode, celebrity_user_id) -> ReferralCode:
    referral.assigned_to = _assignee(referral.tenant, celebrity_user_id)
    return _save(referral, update_fields=["assigned_to"])


@transaction.atomic
def redeem_referral_code(tenant: Tenant, code: str) -> ReferralCode:
    """Use a code once: one conditional UPDATE, so concurrent redeems never pass the limit.

    The row stays locked until the transaction ends, so the count returned is this redeem's.
    """
    if not ReferralCode.objects.filter(tenant=tenant, code=code, used__lt=F("limit")).update(used=F("used") + 1):
        if ReferralCode.objects.filter(tenant=tenant, code=code).exists():
            raise Conflict("code", "This referral code has been used as often as its limit allows.")
        raise ValidationError({"code": "No such referral code."})
    referral = ReferralCode.objects.get(tenant=tenant, code=code)
    outbox.referral_event(referral, "redeemed")
    return referral


@recorded("referral_code.usage_reset")
def reset_referral_usage(referral: ReferralCode) -> ReferralCode:
    ReferralCode.objects.filter(pk=referral.pk).update(used=0)
    referral.used = 0
    return referral


# --- fan profiles and follows -----------------------------------------------------------------


def create_fan_profile(user: User) -> FanProfile:
    """Every new user gets one, in the transaction that creates the user. [FanProfileCreated]"""
    fan = FanProfile.objects.create(user=user, tenant_id=user.tenant_id)
    outbox.fan_event("FanProfileCreated", fan)
    return fan


@recorded("fan.updated")
def update_fan_profile(fan: FanProfile, changes: dict) -> FanProfile:
    for name, value in changes.items():
        setattr(fan, name, value)
    fan.save(update_fields=list(changes))
    return fan


@transaction.atomic
def follow_celebrity(fan: FanProfile, celebrity: CelebrityProfile, metadata: str = "") -> tuple[FanFollow, bool]:
    """followCelebrity; idempotent. Returns the follow and whether it changed anything.

    A change (a new follow, or a refollow after an unfollow) appends a change row and adds one to
    the celebrity's follower count in this transaction; a repeat changes nothing. Concurrent
    follows of one pair meet at the primary key, so the count moves once. [CelebrityFollowed]
    """
    if fan.pk == celebrity.pk:
        raise ValidationError({"celebrity_user_id": "A fan cannot follow their own celebrity profile."})
    key, now = follow_id(fan.pk, celebrity.pk), timezone.now()
    try:
        with transaction.atomic():
            follow = FanFollow.objects.create(id=key, fan=fan, celebrity=celebrity, followed_on=now,
                                              followed_metadata=metadata)
        changed = True
    except IntegrityError:
        changed = bool(FanFollow.objects.filter(pk=key, unfollowed_on__isnull=False)
                       .update(unfollowed_on=None, followed_on=now, followed_metadata=metadata))
        follow = FanFollow.objects.get(pk=key)
    if changed:
        CelebrityProfile.objects.filter(pk=celebrity.pk).update(follower_count=F("follower_count") + 1)
        FanFollowChange.objects.create(fan=fan, celebrity=celebrity, change=FollowChange.FOLLOW, occurred_on=now)
        outbox.follow_event("CelebrityFollowed", fan, celebrity, now, metadata)
        outbox.fan_event("AddUserToSseGroup", fan, groupId=str(celebrity.pk))
    return follow, changed


@transaction.atomic
def unfollow_celebrity(fan: FanProfile, celebrity: CelebrityProfile) -> bool:
    """unFollowCelebrity; idempotent, keeps the row with `unfollowed_on`. [CelebrityUnfollowed]"""
    now = timezone.now()
    changed = bool(FanFollow.objects.filter(pk=follow_id(fan.pk, celebrity.pk), unfollowed_on__isnull=True)
                   .update(unfollowed_on=now))
    if changed:
        CelebrityProfile.objects.filter(pk=celebrity.pk).update(follower_count=F("follower_count") - 1)
        FanFollowChange.objects.create(fan=fan, celebrity=celebrity, change=FollowChange.UNFOLLOW, occurred_on=now)
        outbox.follow_event("CelebrityUnfollowed", fan, celebrity, now)
    return changed


def followed_among(fan: FanProfile, celebrity_user_ids: Iterable) -> set:
    """doIFollowCelebs: which of these celebrities the fan follows now, in one query."""
    ids = list(dict.fromkeys(celebrity_user_ids))
    if len(ids) > MAX_CHECKED_CELEBRITIES:
        raise ValidationError({"celebrity_user_ids": f"At most {MAX_CHECKED_CELEBRITIES} ids at a time."})
    return set(FanFollow.objects.filter(pk__in=[follow_id(fan.pk, i) for i in ids], unfollowed_on__isnull=True)
               .values_list("celebrity_id", flat=True))


def release_follows_of(fan: FanProfile):
    """Before a fan profile goes (with its user), its current follows leave the follower counts."""
    active = FanFollow.objects.filter(fan=fan, unfollowed_on__isnull=True).values("celebrity_id")
    CelebrityProfile.objects.filter(pk__in=active).update(follower_count=F("follower_count") - 1)


# --- media, preferences, index page -----------------------------------------------------------


def save_fan_media(fan: FanProfile, media_id) -> tuple[FanMedia, bool]:
    """Idempotent: saving a medium twice keeps one row."""
    try:
        with transaction.atomic():
            media = FanMedia.objects.create(fan=fan, tenant_id=fan.tenant_id, media_id=media_id)
            outbox.fan_event("FanMediaChanged", fan, mediaId=str(media_id), change="saved")
            return media, True
    except IntegrityError:
        return FanMedia.objects.get(fan=fan, media_id=media_id), False


@transaction.atomic
def remove_fan_media(fan: FanProfile, media_id) -> bool:
    removed = FanMedia.objects.filter(fan=fan, media_id=media_id).delete()[0] > 0
    if removed:
        outbox.fan_event("FanMediaChanged", fan, mediaId=str(media_id), change="removed")
    return removed


@recorded("preference.set", subject=RESULT)
def set_global_preference(tenant: Tenant, type: str, value: str) -> GlobalPreference:
    preference, _ = GlobalPreference.objects.update_or_create(
        tenant=tenant, type=type, defaults={"preference_value": value}
    )
    return preference


def _element_celebrity(tenant: Tenant, fields: dict):
    if "celebrity" in fields and fields["celebrity"] is not None:
        if not CelebrityProfile.objects.filter(tenant=tenant, pk=fields["celebrity"]).exists():
            raise ValidationError({"celebrity_user_id": "No such celebrity profile in this tenant."})
        fields["celebrity_id"] = fields.pop("celebrity")


@recorded("index_element.created")
def create_index_element(tenant: Tenant, **fields) -> IndexPageElement:
    _element_celebrity(tenant, fields)
    return _save(IndexPageElement(tenant=tenant, **fields))


@recorded("index_element.updated")
def update_index_element(element: IndexPageElement, changes: dict) -> IndexPageElement:
    _element_celebrity(element.tenant, changes)
    for name, value in changes.items():
        setattr(element, name, value)
    return _save(element)


@recorded("index_element.deleted")
def delete_index_element(element: IndexPageElement):
    element.delete()


@transaction.atomic
@recorded("index_page.reordered", given=["ids"])
def reorder_index_elements(tenant: Tenant, ids: list, step: int = 10) -> list[IndexPageElement]:
    """Positions 10, 20, 30… in the given order; elements not named keep their order after them."""
    elements = {e.pk: e for e in IndexPageElement.objects.select_for_update().filter(tenant=tenant)}
    unknown = [str(i) for i in ids if i not in elements]
    if unknown:
        raise ValidationError({"ids": f"Not elements of this tenant: {', '.join(unknown)}."})
    named = list(dict.fromkeys(ids))
    rest = sorted((e for pk, e in elements.items() if pk not in set(named)), key=lambda e: (e.position, str(e.pk)))
    ordered = [elements[i] for i in named] + rest
    for index, element in enumerate(ordered, start=1):
        element.position = index * step
    IndexPageElement.objects.bulk_update(ordered, ["position"])
    return ordered


# --- mailing list -----------------------------------------------------------------------------


def add_fan_to_mailing_list(fan: FanProfile):
    """addUserToFanMailingList through the configured backend (`profiles.mailing`)."""
    from . import mailing

    user = fan.user
    if not user.email:
        raise ValidationError({"email": "This user has no e-mail address to subscribe."})
    mailing.get_backend().subscribe(email=user.email, first_name=user.first_name, last_name=user.last_name)
