"""Explicit routes of the former Celebrity and Fan services; `:verb` suffixes are custom methods.

Scopes: GETs need `profiles:read` (except `fan-media`, an admin list), writes `profiles:write`;
`/v1/tenants/{slug}/…` is public. See `profiles/api/base.py` for who may do what.
"""

from django.urls import path

from profiles.api.celebrities import CelebrityViewSet
from profiles.api.fans import AdminMediaViewSet, FanMediaViewSet, FanViewSet, FollowViewSet
from profiles.api.index_page import IndexElementViewSet
from profiles.api.preferences import PreferenceViewSet
from profiles.api.public import PublicCelebrityViewSet, PublicIndexPageViewSet
from profiles.api.referral_codes import ReferralCodeViewSet

celebrities = CelebrityViewSet.as_view
codes = ReferralCodeViewSet.as_view
follows = FollowViewSet.as_view
media = FanMediaViewSet.as_view
elements = IndexElementViewSet.as_view
C = "celebrities/<uuid:pk>"
F = "fans/<uuid:fan_user_id>"

urlpatterns = [
    # Celebrity service
    path("celebrities", celebrities({"get": "list", "post": "create"}), name="celebrity-list"),
    path("celebrities:count", celebrities({"get": "count"}), name="celebrity-count"),
    path("celebrities:created-per-day", celebrities({"get": "created_per_day"}), name="celebrity-created-per-day"),
    path(C, celebrities({"get": "retrieve", "patch": "partial_update"}), name="celebrity-detail"),
    path(f"{C}/shortlinks", celebrities({"post": "create_shortlink"}), name="celebrity-shortlinks"),
    path(f"{C}:set-store-code", celebrities({"post": "set_store_code"}), name="celebrity-set-store-code"),
    path(f"{C}:toggle-delete", celebrities({"post": "toggle_delete"}), name="celebrity-toggle-delete"),
    path(f"{C}/followers:count", celebrities({"get": "follower_count"}), name="celebrity-follower-count"),
    path("referral-codes", codes({"get": "list", "post": "create"}), name="referral-code-list"),
    path("referral-codes:lookup", codes({"get": "lookup"}), name="referral-code-lookup"),
    path("referral-codes:redeem", codes({"post": "redeem"}), name="referral-code-redeem"),
    path("referral-codes/<uuid:pk>", codes({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
         name="referral-code-detail"),
    path("referral-codes/<uuid:pk>:assign", codes({"post": "assign"}), name="referral-code-assign"),
    # Fan service
    path(F, FanViewSet.as_view({"get": "retrieve", "patch": "partial_update"}), name="fan-detail"),
    path(f"{F}:subscribe-mailing-list", FanViewSet.as_view({"post": "subscribe_mailing_list"}),
         name="fan-subscribe-mailing-list"),
    path(f"{F}/follows", follows({"get": "followed"}), name="fan-follows"),
    path(f"{F}/follows:count", follows({"get": "followed_count"}), name="fan-follows-count"),
    path(f"{F}/follows:check", follows({"post": "check"}), name="fan-follows-check"),
    path(f"{F}/follows/<uuid:celebrity_user_id>", follows({"post": "follow", "delete": "unfollow"}),
         name="fan-follow"),
    path(f"{F}/media", media({"get": "list", "post": "create"}), name="fan-media"),
    path(f"{F}/media/<uuid:media_id>", media({"delete": "destroy"}), name="fan-media-detail"),
    path("fan-media", AdminMediaViewSet.as_view({"get": "list"}), name="fan-media-admin"),
    path("preferences", PreferenceViewSet.as_view({"get": "list"}), name="preference-list"),
    path("preferences/<str:type>", PreferenceViewSet.as_view({"put": "set"}), name="preference-detail"),
    path("index-elements", elements({"get": "list", "post": "create"}), name="index-element-list"),
    path("index-elements:reorder", elements({"post": "reorder"}), name="index-element-reorder"),
    path("index-elements/<uuid:pk>", elements({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
         name="index-element-detail"),
    # Public (no credential): the tenant is the slug of the path
    path("tenants/<slug:slug>/celebrities", PublicCelebrityViewSet.as_view({"get": "list"}),
         name="public-celebrity-list"),
    path("tenants/<slug:slug>/celebrities/<str:id_or_store_code>", PublicCelebrityViewSet.as_view({"get": "retrieve"}),
         name="public-celebrity-detail"),
    path("tenants/<slug:slug>/index-page", PublicIndexPageViewSet.as_view({"get": "page"}), name="public-index-page"),
]
