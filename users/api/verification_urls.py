"""Routes of `users/api/verification.py`, included under `/v1/` by `identity/urls.py`."""

from django.urls import path

from users.api.verification import VerificationViewSet

view = VerificationViewSet.as_view

urlpatterns = [
    path("phone-verifications", view({"post": "phone_create"}), name="phone-verification-list"),
    path("phone-verifications/<uuid:pk>:confirm", view({"post": "phone_confirm"}), name="phone-verification-confirm"),
    path("email-verifications", view({"post": "email_create"}), name="email-verification-list"),
    path("email-verifications/<uuid:pk>:confirm", view({"post": "email_confirm"}), name="email-verification-confirm"),
    path("magic-links", view({"post": "magic_link"}), name="magic-link-list"),
    path("magic-links:redeem", view({"post": "magic_link_redeem"}), name="magic-link-redeem"),
    path("magic-sms", view({"post": "magic_sms"}), name="magic-sms-list"),
    path("magic-sms:redeem", view({"post": "magic_sms_redeem"}), name="magic-sms-redeem"),
]
