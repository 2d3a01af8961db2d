from django.urls import path

from bench.reference import ReferenceUserView
from identity.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    path("bench/reference/<uuid:pk>", ReferenceUserView.as_view()),
    *project_urlpatterns,
]
