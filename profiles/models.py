"""Celebrity and fan profiles, field by field as the celebrity and fan services kept them.

Both profiles are keyed by the user's UUID, as those services keyed them: `user` is the primary
key, stored in their column (`celebrity_user_id`, `fan_user_id`), and the API names it their way.
Every row belongs to one tenant; profiles carry the tenant of their user so that every list is an
indexed walk of one tenant. Where the former schema says `date` for a moment, a timestamp is kept (the
day is derived from it). The `metadata` columns are opaque strings and stay so.

Writes go through `profiles.services` only. The trigram indexes behind the name search are in
migration 0002.
"""

import hashlib
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


def follow_id(fan_user_id, celebrity_user_id) -> str:
    """The former `fan_follows.id`: MD5 of the fan's id followed by the celebrity's id (hex)."""
    return hashlib.md5(f"{fan_user_id}{celebrity_user_id}".encode()).hexdigest()


class CelebrityStatus(models.TextChoices):
    PENDING = "pending", "Pending review"
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"


class CelebProfileType(models.TextChoices):
    CELEBRITY = "celebrity", "Celebrity"
    EXPERT = "expert", "Expert"
    BUSINESS = "business", "Business"


class CelebrityProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, db_column="celebrity_user_id",
        related_name="celebrity_profile",
    )
    tenant = models.ForeignKey("users.Tenant", on_delete=models.PROTECT, related_name="+", db_index=False)
    created_on = models.DateTimeField(auto_now_add=True)
    bio = models.TextField(blank=True, default="")
    display_name = models.CharField(max_length=200, blank=True, default="")
    first_name = models.CharField(max_length=150, blank=True, default="")
    last_name = models.CharField(max_length=150, blank=True, default="")
    metadata = models.TextField(blank=True, default="")
    status = models.CharField(max_length=20, choices=CelebrityStatus.choices, default=CelebrityStatus.PENDING)
    store_code = models.CharField(max_length=64, null=True, blank=True)
    display_weight = models.IntegerField(default=0)
    celeb_profile_type = models.CharField(
        max_length=20, choices=CelebProfileType.choices, default=CelebProfileType.CELEBRITY
    )
    company_name = models.CharField(max_length=200, blank=True, default="")
    title = models.CharField(max_length=200, blank=True, default="")
    profile_video = models.URLField(max_length=2048, blank=True, default="")
    is_deleted = models.BooleanField(default=False)
    deleted_on = models.DateTimeField(null=True, blank=True)
    deleted_by_id = models.UUIDField(null=True, blank=True)
    # Kept in the follow/unfollow transaction, so reading a count never counts follows.
    follower_count = models.BigIntegerField(default=0, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "store_code"], condition=Q(store_code__isnull=False), name="celeb_store_code_per_tenant"
            ),
            models.CheckConstraint(condition=Q(follower_count__gte=0), name="celeb_follower_count_not_negative"),
        ]
        indexes = [
            # The list is ordered by display weight (heaviest first); one index per filter keeps it a walk.
            models.Index(fields=["tenant", "-display_weight", "-user"], condition=Q(is_deleted=False),
                         name="celeb_list"),
            models.Index(fields=["tenant", "status", "-display_weight", "-user"], condition=Q(is_deleted=False),
                         name="celeb_list_status"),
            models.Index(fields=["tenant", "celeb_profile_type", "-display_weight", "-user"],
                         condition=Q(is_deleted=False), name="celeb_list_type"),
            models.Index(fields=["tenant", "-display_weight", "-user"], condition=Q(is_deleted=True),
                         name="celeb_list_deleted"),
            models.Index(fields=["tenant", "created_on"], name="celeb_created_on"),
        ]

    def __str__(self):
        return self.display_name or str(self.user_id)

    @property
    def celebrity_user_id(self):
        return self.user_id


class CelebrityProfileImage(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    celebrity = models.ForeignKey(CelebrityProfile, on_delete=models.CASCADE, db_column="celebrity_user_id",
                                  related_name="images")
    url = models.URLField(max_length=2048)
    created_on = models.DateTimeField(auto_now_add=True)
    meta_data = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["created_on", "id"]


class CelebrityProfileBanner(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    celebrity = models.ForeignKey(CelebrityProfile, on_delete=models.CASCADE, db_column="celebrity_user_id",
                                  related_name="banners")
    url = models.URLField(max_length=2048)
    created_on = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_on", "id"]


class CelebrityProfileShortlink(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    celebrity = models.ForeignKey(CelebrityProfile, on_delete=models.CASCADE, db_column="celebrity_user_id",
                                  related_name="shortlinks")
    name = models.CharField(max_length=200)
    body = models.TextField()

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["celebrity", "name"], name="shortlink_name_per_celebrity")]


class ProfileStatusHistory(models.Model):
    """One row per status a profile entered, its first status included."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    celebrity = models.ForeignKey(CelebrityProfile, on_delete=models.CASCADE, db_column="celebrity_user_id",
                                  related_name="status_history")
    status = models.CharField(max_length=20, choices=CelebrityStatus.choices)
    occurred_on = models.DateTimeField()

    class Meta:
        ordering = ["occurred_on", "id"]
        verbose_name_plural = "profile status history"
        indexes = [models.Index(fields=["celebrity", "occurred_on"], name="status_history_by_profile")]


class ReferralCode(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("users.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False)
    code = models.CharField(max_length=64)
    type = models.CharField(max_length=64, blank=True, default="")
    limit = models.PositiveIntegerField()
    used = models.PositiveIntegerField(default=0)
    assigned_to = models.ForeignKey(CelebrityProfile, on_delete=models.SET_NULL, null=True, blank=True,
                                    db_column="assigned_to", related_name="referral_codes")
    created_on = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="referral_code_per_tenant"),
            models.CheckConstraint(condition=Q(used__lte=models.F("limit")), name="referral_used_within_limit"),
        ]
        indexes = [
            models.Index(fields=["tenant", "type", "code"], name="referral_by_type"),
            models.Index(fields=["assigned_to", "code"], name="referral_by_assignee"),
        ]

    def __str__(self):
        return self.code


class FanProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, db_column="fan_user_id",
        related_name="fan_profile",
    )
    tenant = models.ForeignKey("users.Tenant", on_delete=models.PROTECT, related_name="+", db_index=False)
    created_on = models.DateTimeField(auto_now_add=True)
    metadata = models.TextField(blank=True, default="")
    fan_profile_exclusively = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["tenant", "user"], name="fan_by_tenant")]

    def __str__(self):
        return str(self.user_id)

    @property
    def fan_user_id(self):
        return self.user_id


class FanFollow(models.Model):
    """A fan follows a celebrity; unfollowing keeps the row (`unfollowed_on`), refollowing clears it."""

    id = models.CharField(max_length=32, primary_key=True, editable=False)
    fan = models.ForeignKey(FanProfile, on_delete=models.CASCADE, db_column="fan_user_id", related_name="follows",
                            db_index=False)
    celebrity = models.ForeignKey(CelebrityProfile, on_delete=models.CASCADE, db_column="celeb_user_id",
                                  related_name="follows", db_index=False)
    followed_on = models.DateTimeField()
    followed_metadata = models.TextField(blank=True, default="")
    unfollowed_on = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # A fan's current follows in celebrity order: the paged list, the count and "do I follow".
            models.Index(fields=["fan", "celebrity"], condition=Q(unfollowed_on__isnull=True), name="follow_active"),
            models.Index(fields=["celebrity", "fan"], name="follow_by_celebrity"),
        ]

    def __str__(self):
        return f"{self.fan_id} → {self.celebrity_id}"

    @property
    def is_active(self):
        return self.unfollowed_on is None


class FollowChange(models.TextChoices):
    FOLLOW = "follow", "Followed"
    UNFOLLOW = "unfollow", "Unfollowed"


class FanFollowChange(models.Model):
    """The audit trail of fan_follows: one row per follow and per unfollow."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    occurred_on = models.DateTimeField()
    fan = models.ForeignKey(FanProfile, on_delete=models.CASCADE, db_column="fan_user_id", related_name="+",
                            db_index=False)
    celebrity = models.ForeignKey(CelebrityProfile, on_delete=models.CASCADE, db_column="celeb_user_id",
                                  related_name="+")
    change = models.CharField(max_length=10, choices=FollowChange.choices)

    class Meta:
        indexes = [models.Index(fields=["fan", "occurred_on"], name="follow_change_by_fan")]


class FanMedia(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("users.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False)
    fan = models.ForeignKey(FanProfile, on_delete=models.CASCADE, db_column="fan", related_name="media",
                            db_index=False)
    media_id = models.UUIDField()
    created_on = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "fan media"
        constraints = [models.UniqueConstraint(fields=["fan", "media_id"], name="fan_media_once")]
        indexes = [
            models.Index(fields=["tenant", "id"], name="fan_media_by_tenant"),
            models.Index(fields=["tenant", "media_id", "id"], name="fan_media_by_media"),
        ]


class PreferenceType(models.TextChoices):
    """Kinds of tenant-wide preference; a new kind is a new member here (no migration of data)."""

    DEFAULT_LANGUAGE = "default_language", "Default language"
    FOLLOW_NOTIFICATIONS = "follow_notifications", "Follow notifications on by default"
    MARKETING_EMAILS = "marketing_emails", "Marketing e-mails on by default"
    FEATURED_CATEGORY = "featured_category", "Featured category"
    SUPPORT_EMAIL = "support_email", "Support e-mail address"


class GlobalPreference(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("users.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False)
    type = models.CharField(max_length=40, choices=PreferenceType.choices)
    preference_value = models.TextField(blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "type"], name="preference_once_per_tenant")]

    def __str__(self):
        return self.type


class IndexElementType(models.TextChoices):
    BANNER = "banner", "Banner"
    CELEBRITY = "celebrity", "Featured celebrity"
    COLLECTION = "collection", "Collection"
    TEXT = "text", "Text"
    LINK = "link", "Link"


class IndexPageElement(models.Model):
    """An admin-managed element of a tenant's home page, shown in `position` order when published."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("users.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False)
    element_type = models.CharField(max_length=20, choices=IndexElementType.choices)
    position = models.IntegerField(default=0)
    title = models.CharField(max_length=200, blank=True, default="")
    body = models.TextField(blank=True, default="")
    image_url = models.URLField(max_length=2048, blank=True, default="")
    link_url = models.URLField(max_length=2048, blank=True, default="")
    celebrity = models.ForeignKey(CelebrityProfile, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+")
    is_published = models.BooleanField(default=True)
    created_on = models.DateTimeField(auto_now_add=True)
    updated_on = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["tenant", "position", "id"], name="index_element_order")]

    def __str__(self):
        return f"{self.position}: {self.title or self.element_type}"
