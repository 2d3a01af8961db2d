from django.urls import re_path

from . import views

# Everything under /scim/v2 goes to scim2-server's router, which answers unknown paths itself.
urlpatterns = [re_path(r"^(?P<path>(?:/.*)?)$", views.endpoint, name="scim")]
