from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authentication import SessionAuthentication

from identity.api.permissions import SchemaReader
from identity.health import healthz, readyz
from keycloak_bridge import admin_sso
from profiles import share
from users.api.authentication import ApiClientAuthentication
from users.forms import OperatorAuthenticationForm

# The schema and its UI are for operators (admin session) and API clients, not the public.
schema_access = {
    "authentication_classes": [SessionAuthentication, ApiClientAuthentication],
    "permission_classes": [SchemaReader],
}

# Operators' sign-in: "Sign in with Keycloak" above the password form (which locks out after a few
# failures), and a logout that also ends the Keycloak session (keycloak_bridge/admin_sso.py).
admin.site.login_template = "admin/sso_login.html"
admin.site.login_form = OperatorAuthenticationForm

urlpatterns = [
    path("admin/login/", admin_sso.admin_login),
    path("admin/logout/", admin_sso.admin_logout),
    path("admin/", admin.site.urls),
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("v1/schema", SpectacularAPIView.as_view(**schema_access), name="schema"),
    # A page: OPTIONS has nothing to describe there (405), and its HTML renderer could render no metadata.
    path("v1/docs", SpectacularSwaggerView.as_view(url_name="schema", metadata_class=None, **schema_access),
         name="docs"),
    path("v1/", include("users.api.urls")),
    path("v1/", include("users.api.verification_urls")),
    path("v1/", include("profiles.api.urls")),
    path("v1/", include("audit.api.urls")),
    path("scim/v2", include("scim.urls")),
    path("share/<slug:slug>/celebrities/<str:key>", share.celebrity_page, name="share-celebrity"),
    path("share/<slug:slug>/events/<str:event_id>", share.event_page, name="share-event"),
]

handler400 = "identity.api.errors.json_bad_request"
handler404 = "identity.api.errors.json_not_found"
handler500 = "identity.api.errors.json_server_error"
