"""The operators' console for profiles. Saves go through `profiles.services`; big tables (fans,
follows, follow changes, media) never run a full COUNT(*) and search through indexed lookups."""

from django import forms
from django.contrib import admin, messages
from django.db import models

from audit.admin_hooks import RowAsRead
from identity.admin_reads import ReplicaChangeListAdmin
from users import search as user_search
from users.admin import BigTableAdmin, ReadOnlyAdmin

from . import services
from .models import (
    CelebrityProfile,
    CelebrityProfileBanner,
    CelebrityProfileImage,
    CelebrityProfileShortlink,
    FanFollow,
    FanFollowChange,
    FanMedia,
    FanProfile,
    GlobalPreference,
    IndexPageElement,
    ProfileStatusHistory,
    ReferralCode,
)


# Typed-in URLs without a scheme are read as https (Django 6's default).
URL_FIELDS = {models.URLField: {"assume_scheme": "https"}}


def _matching_users(term: str):
    """User ids matching a Keycloak-style search term, through the users app's indexed search."""
    return user_search.search_users(None, user_search.UserCriteria(search=term)).values("pk")


class CelebrityProfileForm(forms.ModelForm):
    def clean_store_code(self):
        """Checked here so that a taken code is a form error; the constraint still decides races."""
        code = self.cleaned_data.get("store_code") or None
        user = self.cleaned_data.get("user") or getattr(self.instance, "user", None)
        if code and user is not None:
            taken = CelebrityProfile.objects.filter(tenant_id=user.tenant_id, store_code=code).exclude(pk=user.pk)
            if taken.exists():
                raise forms.ValidationError("Another celebrity of this tenant has this store code.")
        return code


class ReferralCodeForm(forms.ModelForm):
    def clean_code(self):
        return (self.cleaned_data.get("code") or "").strip().upper()


class ImageInline(admin.TabularInline):
    formfield_overrides = URL_FIELDS
    model = CelebrityProfileImage
    extra = 0
    readonly_fields = ["created_on"]


class BannerInline(admin.TabularInline):
    formfield_overrides = URL_FIELDS
    model = CelebrityProfileBanner
    extra = 0
    readonly_fields = ["created_on"]


class ShortlinkInline(admin.TabularInline):
    model = CelebrityProfileShortlink
    extra = 0


class StatusHistoryInline(admin.TabularInline):
    model = ProfileStatusHistory
    extra = 0
    readonly_fields = ["status", "occurred_on"]
    can_delete = False
    max_num = 0


@admin.register(CelebrityProfile)
class CelebrityProfileAdmin(ReplicaChangeListAdmin, RowAsRead, admin.ModelAdmin):
    formfield_overrides = URL_FIELDS
    form = CelebrityProfileForm
    list_display = ["display_name", "store_code", "tenant", "status", "celeb_profile_type", "display_weight",
                    "follower_count", "is_deleted", "created_on"]
    list_filter = ["tenant", "status", "celeb_profile_type", "is_deleted"]
    list_select_related = ["tenant"]
    search_fields = ["display_name", "first_name", "last_name", "=store_code"]
    ordering = ["-display_weight", "-user_id"]
    show_full_result_count = False
    raw_id_fields = ["user"]
    readonly_fields = ["tenant", "created_on", "follower_count", "is_deleted", "deleted_on", "deleted_by_id"]
    inlines = [ImageInline, BannerInline, ShortlinkInline, StatusHistoryInline]
    actions = ["soft_delete", "restore"]
    fieldsets = [
        (None, {"fields": ["user", "tenant", "display_name", "first_name", "last_name", "store_code"]}),
        ("Profile", {"fields": ["bio", "title", "company_name", "profile_video", "celeb_profile_type", "metadata"]}),
        ("Listing", {"fields": ["status", "display_weight", "follower_count"]}),
        ("Deletion", {"fields": ["is_deleted", "deleted_on", "deleted_by_id"]}),
        ("Audit", {"fields": ["created_on"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "user"] if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in form.changed_data if name in services.CELEBRITY_FIELDS}
        if change:
            services.update_celebrity(obj, fields)
            if "store_code" in form.changed_data:
                services.set_store_code(obj, form.cleaned_data["store_code"])
        else:
            created = services.create_celebrity(obj.user, store_code=obj.store_code or None, **fields)
            obj.pk, obj.tenant_id = created.pk, created.tenant_id
            obj._state.adding = False

    def has_delete_permission(self, request, obj=None):
        return False  # soft delete (an action) keeps follows and history; the user's deletion removes all

    @admin.action(description="Soft-delete selected profiles")
    def soft_delete(self, request, queryset):
        for profile in queryset.filter(is_deleted=False):
            services.toggle_celebrity_deleted(profile, request.user.pk)
        self.message_user(request, "Soft-deleted.", messages.SUCCESS)

    @admin.action(description="Restore selected soft-deleted profiles")
    def restore(self, request, queryset):
        for profile in queryset.filter(is_deleted=True):
            services.restore_celebrity(profile)
        self.message_user(request, "Restored.", messages.SUCCESS)


@admin.register(CelebrityProfileImage, CelebrityProfileBanner)
class PictureAdmin(ReplicaChangeListAdmin, admin.ModelAdmin):
    formfield_overrides = URL_FIELDS
    list_display = ["url", "celebrity", "created_on"]
    list_select_related = ["celebrity"]
    search_fields = ["=celebrity__store_code", "celebrity__display_name"]
    raw_id_fields = ["celebrity"]
    show_full_result_count = False


@admin.register(CelebrityProfileShortlink)
class ShortlinkAdmin(ReplicaChangeListAdmin, admin.ModelAdmin):
    list_display = ["name", "celebrity", "body"]
    list_select_related = ["celebrity"]
    search_fields = ["name", "=celebrity__store_code"]
    raw_id_fields = ["celebrity"]
    show_full_result_count = False


@admin.register(ProfileStatusHistory)
class StatusHistoryAdmin(ReadOnlyAdmin):
    list_display = ["celebrity", "status", "occurred_on"]
    list_filter = ["status"]
    list_select_related = ["celebrity"]
    search_fields = ["=celebrity__store_code"]


@admin.register(ReferralCode)
class ReferralCodeAdmin(ReplicaChangeListAdmin, RowAsRead, admin.ModelAdmin):
    form = ReferralCodeForm
    list_display = ["code", "tenant", "type", "used", "limit", "assigned_to", "created_on"]
    list_filter = ["tenant", "type"]
    list_select_related = ["tenant", "assigned_to"]
    search_fields = ["=code"]
    raw_id_fields = ["assigned_to"]
    readonly_fields = ["used", "created_on"]
    show_full_result_count = False
    actions = ["reset_usage"]

    def save_model(self, request, obj, form, change):
        if change:
            changes = {name: form.cleaned_data[name] for name in form.changed_data if name != "tenant"}
            if "assigned_to" in changes:
                changes["assigned_to"] = changes["assigned_to"].pk if changes["assigned_to"] else None
            services.update_referral_code(obj, changes)
        else:
            created = services.create_referral_code(
                obj.tenant, code=obj.code, limit=obj.limit, type=obj.type,
                assigned_to=obj.assigned_to_id)
            obj.pk = created.pk
            obj._state.adding = False

    def delete_model(self, request, obj):
        services.delete_referral_code(obj)

    @admin.action(description="Reset the usage of selected codes to zero")
    def reset_usage(self, request, queryset):
        for referral in queryset:
            services.reset_referral_usage(referral)
        self.message_user(request, "Usage reset.", messages.SUCCESS)


class FanSearchMixin:
    fan_lookup = "fan_id"
    search_help_text = 'The fan: Keycloak-style user search, foo (prefix), *foo* (substring), "foo" (exact).'
    search_fields = ["pk"]  # the real search is get_search_results

    def get_search_results(self, request, queryset, search_term):
        if not search_term:
            return queryset, False
        return queryset.filter(**{f"{self.fan_lookup}__in": _matching_users(search_term)}), False


@admin.register(FanProfile)
class FanProfileAdmin(RowAsRead, FanSearchMixin, BigTableAdmin):
    fan_lookup = "user_id"
    list_display = ["user", "tenant", "fan_profile_exclusively", "created_on"]
    list_filter = ["tenant", "fan_profile_exclusively"]
    list_select_related = ["user", "tenant"]
    ordering = ["-created_on"]
    readonly_fields = ["user", "tenant", "created_on"]
    fields = ["user", "tenant", "metadata", "fan_profile_exclusively", "created_on"]

    def has_add_permission(self, request):
        return False  # every user gets one when created

    def save_model(self, request, obj, form, change):
        services.update_fan_profile(obj, {name: form.cleaned_data[name] for name in form.changed_data})


@admin.register(FanFollow)
class FanFollowAdmin(FanSearchMixin, ReadOnlyAdmin):
    list_display = ["id", "fan", "celebrity", "followed_on", "unfollowed_on"]
    list_select_related = ["celebrity"]
    list_filter = [("unfollowed_on", admin.EmptyFieldListFilter)]
    ordering = ["-followed_on"]


@admin.register(FanFollowChange)
class FanFollowChangeAdmin(FanSearchMixin, ReadOnlyAdmin):
    list_display = ["occurred_on", "fan", "celebrity", "change"]
    list_select_related = ["celebrity"]
    list_filter = ["change"]
    ordering = ["-occurred_on"]


@admin.register(FanMedia)
class FanMediaAdmin(FanSearchMixin, BigTableAdmin):
    list_display = ["media_id", "fan", "tenant", "created_on"]
    list_filter = ["tenant"]
    list_select_related = ["tenant"]
    ordering = ["-created_on"]
    readonly_fields = ["tenant", "fan", "created_on"]
    raw_id_fields = ["fan"]

    def has_add_permission(self, request):
        return False  # fans save media through the API

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(GlobalPreference)
class GlobalPreferenceAdmin(ReplicaChangeListAdmin, admin.ModelAdmin):
    list_display = ["type", "tenant", "preference_value"]
    list_filter = ["tenant", "type"]
    list_select_related = ["tenant"]
    search_fields = ["preference_value"]

    def save_model(self, request, obj, form, change):
        saved = services.set_global_preference(obj.tenant, obj.type, obj.preference_value)
        obj.pk = saved.pk
        obj._state.adding = False


@admin.register(IndexPageElement)
class IndexPageElementAdmin(ReplicaChangeListAdmin, RowAsRead, admin.ModelAdmin):
    formfield_overrides = URL_FIELDS
    list_display = ["title", "element_type", "position", "is_published", "tenant", "updated_on"]
    list_editable = ["position", "is_published"]
    list_filter = ["tenant", "element_type", "is_published"]
    list_select_related = ["tenant"]
    search_fields = ["title"]
    ordering = ["tenant", "position", "id"]
    raw_id_fields = ["celebrity"]
    actions = ["renumber"]

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in form.changed_data if name != "tenant"}
        if "celebrity" in fields:
            fields["celebrity"] = fields["celebrity"].pk if fields["celebrity"] else None
        if change:
            services.update_index_element(obj, fields)
        else:
            created = services.create_index_element(obj.tenant, **fields)
            obj.pk = created.pk
            obj._state.adding = False

    def delete_model(self, request, obj):
        services.delete_index_element(obj)

    @admin.action(description="Reorder: put the selected elements first, then number every element 10, 20, 30…")
    def renumber(self, request, queryset):
        by_tenant = {}
        for element in queryset.order_by("position", "id"):
            by_tenant.setdefault(element.tenant, []).append(element.pk)
        for tenant, ids in by_tenant.items():
            services.reorder_index_elements(tenant, ids)
        self.message_user(request, "Reordered.", messages.SUCCESS)
