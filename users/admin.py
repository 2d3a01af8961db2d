"""The operators' console. Built for tables of millions: no full COUNT(*), indexed search only."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connections, models
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils import timezone
from django.utils.html import format_html

from audit.admin_hooks import AuditedAdmin, AuditedUserAdmin
from identity.admin_reads import ReplicaChangeListAdmin
from keycloak_bridge import sessions as keycloak_sessions

from . import search, services
from .forms import UserChangeForm, UserCreationForm
from .models import ApiClient, Group, Role, Tenant, User, UserLogin


class EstimatedCountPaginator(Paginator):
    """Unfiltered lists use the planner's row estimate instead of COUNT(*);
    small tables, where counting is cheap and exactness shows, are still counted. Both are read
    from the list's database (a replica for change lists)."""

    exact_below = 10_000

    @cached_property
    def count(self):
        query = self.object_list.query
        if not query.where:
            with connections[self.object_list.db].cursor() as cursor:
                cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                               [self.object_list.model._meta.db_table])
                row = cursor.fetchone()
            if row and row[0] >= self.exact_below:
                return int(row[0])
        return super().count


class BigTableAdmin(ReplicaChangeListAdmin, admin.ModelAdmin):
    """Lists of tables that grow to millions of rows: never a full COUNT(*)."""

    show_full_result_count = False
    paginator = EstimatedCountPaginator


class ReadOnlyAdmin(BigTableAdmin):
    """Rows that only the services write (their counters and audit depend on it)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Tenant)
class TenantAdmin(ReplicaChangeListAdmin, admin.ModelAdmin):
    list_display = ["slug", "display_name", "oidc_issuer", "session_limit", "created_at"]
    search_fields = ["slug", "display_name"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (None, {"fields": ["slug", "display_name", "oidc_issuer", "is_operators"]}),
        ("Keycloak session limits", {
            "fields": ["session_limit", "session_limit_per_client", "session_limit_behavior"],
            "description": "Applied to the tenant's realm by <code>manage.py connect_keycloak</code>."}),
    ]


class TenantScopedAdmin(ReplicaChangeListAdmin, AuditedAdmin, admin.ModelAdmin):
    list_filter = ["tenant"]
    list_select_related = ["tenant"]


@admin.register(Role)
class RoleAdmin(TenantScopedAdmin):
    list_display = ["name", "tenant", "description", "created_at"]
    search_fields = ["name"]


@admin.register(Group)
class GroupAdmin(TenantScopedAdmin):
    list_display = ["path", "tenant", "created_at"]
    search_fields = ["path"]
    readonly_fields = ["path"]
    autocomplete_fields = ["parent"]
    fields = ["tenant", "name", "parent", "path"]

    def save_model(self, request, obj, form, change):
        if change:
            obj.path = f"{obj.parent.path if obj.parent else ''}/{obj.name}"
            obj.save()
        else:
            created = services.create_group(obj.tenant, obj.name, obj.parent)
            obj.pk, obj.path = created.pk, created.path
            obj._state.adding = False


class UserLoginInline(admin.StackedInline):
    model = UserLogin
    can_delete = False
    readonly_fields = ["last_login_at", "login_count", "last_client", "last_ip"]
    extra = 0
    max_num = 0


@admin.register(User)
class UserAdmin(ReplicaChangeListAdmin, AuditedUserAdmin, DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    list_display = ["username", "email", "phone_number", "first_name", "last_name", "tenant", "is_active",
                    "is_staff", "created_at"]
    list_filter = ["tenant", "is_active", "email_verified", "phone_verified", "is_staff", "roles", "identity_groups"]
    list_select_related = ["tenant"]
    search_fields = ["username"]  # the real search is get_search_results
    search_help_text = 'Keycloak-style: foo (prefix), *foo* (substring), "foo" (exact).'
    ordering = ["username"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    autocomplete_fields = ["roles", "identity_groups"]
    readonly_fields = ["id", "created_at", "updated_at", "deactivated_at", "last_login"]
    inlines = [UserLoginInline]
    actions = ["deactivate", "reactivate", "sign_out_everywhere", "issue_reset_token"]
    change_form_template = "admin/users/user/change_form_sign_out.html"
    fieldsets = [
        (None, {"fields": ["id", "tenant", "username", "password"]}),
        ("Profile", {"fields": ["first_name", "last_name", "email", "email_verified", "phone_number",
                                "phone_verified", "attributes"]}),
        ("Identity roles and groups", {"fields": ["roles", "identity_groups"]}),
        ("Status", {"fields": ["is_active", "deactivated_at"]}),
        ("Admin access", {"fields": ["is_staff", "is_superuser", "groups", "user_permissions"],
                          "classes": ["collapse"]}),
        ("Audit", {"fields": ["created_at", "updated_at", "last_login"]}),
    ]
    add_fieldsets = [(None, {"fields": ["tenant", "username", "email", "usable_password", "password1",
                                        "password2"]})]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_search_results(self, request, queryset, search_term):
        if not search_term:
            return queryset, False
        criteria = search.UserCriteria(search=search_term)
        return search.search_users(None, criteria, queryset), False

    def save_model(self, request, obj, form, change):
        if "is_active" in form.changed_data:
            obj.deactivated_at = None if obj.is_active else timezone.now()
            if not obj.is_active:
                keycloak_sessions.end_sessions_after_commit(obj)
        super().save_model(request, obj, form, change)

    def get_urls(self):
        sign_out = self.admin_site.admin_view(self.sign_out_view)
        return [path("<path:object_id>/sign-out/", sign_out, name="users_user_sign_out"), *super().get_urls()]

    def sign_out_view(self, request, object_id):
        """The change page's "Sign out everywhere" button."""
        user = get_object_or_404(self.get_queryset(request), pk=object_id)
        if request.method != "POST" or not self.has_change_permission(request, user):
            raise PermissionDenied
        self._sign_out(request, [user])
        return HttpResponseRedirect(reverse("admin:users_user_change", args=[user.pk]))

    @admin.action(description="Sign out everywhere (end every Keycloak session)", permissions=["change"])
    def sign_out_everywhere(self, request, queryset):
        self._sign_out(request, list(queryset.select_related("tenant")[:100]))

    def _sign_out(self, request, users):
        done = []
        for user in users:
            try:
                keycloak_sessions.end_sessions(user.tenant, user.pk)
            except keycloak_sessions.KeycloakUnavailable as error:
                self.message_user(request, f"Sessions of {user.username} not ended: {error}", messages.ERROR)
            else:
                done.append(user.username)
        if done:
            self.message_user(request, f"Signed out everywhere: {', '.join(done)}.", messages.SUCCESS)

    @admin.action(description="Deactivate selected users")
    def deactivate(self, request, queryset):
        for user in queryset.iterator():
            services.deactivate_user(user)
        self.message_user(request, "Deactivated.", messages.SUCCESS)

    @admin.action(description="Reactivate selected users")
    def reactivate(self, request, queryset):
        for user in queryset.iterator():
            services.reactivate_user(user)
        self.message_user(request, "Reactivated.", messages.SUCCESS)

    @admin.action(description="Issue a password-reset token")
    def issue_reset_token(self, request, queryset):
        for user in queryset[:20]:
            token, reset = services.issue_password_reset(user)
            self.message_user(
                request,
                format_html("Reset token for <b>{}</b> (shown once, valid until {}): <code>{}</code>",
                            user.username, reset.expires_at, token),
                messages.WARNING,
            )


@admin.register(UserLogin)
class UserLoginAdmin(ReplicaChangeListAdmin, admin.ModelAdmin):
    list_display = ["user", "last_login_at", "login_count", "last_client", "last_ip"]
    list_select_related = ["user"]
    readonly_fields = list_display
    ordering = ["-last_login_at"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def has_add_permission(self, request):
        return False


@admin.register(ApiClient)
class ApiClientAdmin(TenantScopedAdmin):
    list_display = ["name", "tenant", "scopes", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["key", "created_at", "last_used_at", "revoked_at"]
    fields = ["tenant", "name", "scopes", "key", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            obj.scopes = sorted(set(obj.scopes))
            obj.save()
            services.forget_cached_clients()
            return
        client, token = services.create_api_client(obj.tenant, obj.name, obj.scopes)
        obj.pk, obj.key, obj.secret_hash = client.pk, client.key, client.secret_hash
        obj._state.adding = False
        self.message_user(
            request,
            format_html("Token for <b>{}</b>, shown only now; store it safely: <code>{}</code>", client.name, token),
            messages.WARNING,
        )

    @admin.action(description="Revoke selected clients")
    def revoke(self, request, queryset):
        for client in queryset:
            services.revoke_api_client(client)
        self.message_user(request, "Revoked.", messages.SUCCESS)
