"""Explicit routes: `:verb` suffixes are AIP-style custom methods, which routers cannot express."""

from django.urls import path

from users.api.credentials import CredentialViewSet
from users.api.groups import GroupViewSet, UserGroupViewSet
from users.api.me import MeView
from users.api.roles import RoleViewSet, UserRoleViewSet
from users.api.sessions import UserSessionViewSet
from users.api.users import UserViewSet

users = UserViewSet.as_view
credentials = CredentialViewSet.as_view
roles = RoleViewSet.as_view
groups = GroupViewSet.as_view

urlpatterns = [
    path("me", MeView.as_view(), name="me"),
    path("users", users({"get": "list", "post": "create"}), name="user-list"),
    path("users:search", users({"get": "search"}), name="user-search"),
    path("users:count", users({"get": "count"}), name="user-count"),
    path("users/<uuid:pk>", users({"get": "retrieve", "put": "update", "patch": "partial_update",
                                   "delete": "destroy"}), name="user-detail"),
    path("users/<uuid:pk>:deactivate", users({"post": "deactivate"}), name="user-deactivate"),
    path("users/<uuid:pk>:reactivate", users({"post": "reactivate"}), name="user-reactivate"),
    path("users/<uuid:pk>:record-login", users({"post": "record_login"}), name="user-record-login"),
    path("users/<uuid:pk>/login", users({"get": "last_login"}), name="user-last-login"),
    path("users/<uuid:pk>:logout", UserSessionViewSet.as_view({"post": "logout"}), name="user-logout"),
    path("users/<uuid:pk>/sessions", UserSessionViewSet.as_view({"get": "list_sessions"}), name="user-sessions"),
    path("users/<uuid:pk>/password", credentials({"put": "set_password"}), name="user-password"),
    path("users/<uuid:pk>/credentials:verify", credentials({"post": "verify"}), name="user-verify-password"),
    path("users/<uuid:pk>:reset-password", credentials({"post": "reset_password"}), name="user-reset-password"),
    path("password-resets:redeem", credentials({"post": "redeem"}), name="password-reset-redeem"),
    path("users/<uuid:pk>/roles", UserRoleViewSet.as_view({"put": "replace"}), name="user-roles"),
    path("users/<uuid:pk>/roles/<str:name>", UserRoleViewSet.as_view({"post": "add", "delete": "remove"}),
         name="user-role"),
    path("users/<uuid:pk>/groups", UserGroupViewSet.as_view({"put": "replace"}), name="user-groups"),
    path("users/<uuid:pk>/groups/<uuid:group_id>", UserGroupViewSet.as_view({"post": "add", "delete": "remove"}),
         name="user-group"),
    path("roles", roles({"get": "list", "post": "create"}), name="role-list"),
    path("roles/<str:name>", roles({"delete": "destroy"}), name="role-detail"),
    path("groups", groups({"get": "list", "post": "create"}), name="group-list"),
    path("groups:count", groups({"get": "count"}), name="group-count"),
    path("groups/<uuid:pk>", groups({"get": "retrieve", "delete": "destroy"}), name="group-detail"),
    path("groups/<uuid:pk>/members", groups({"get": "members"}), name="group-members"),
]
