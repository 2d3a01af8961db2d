"""Verification codes and magic sign-in: `/v1/phone-verifications`, `/v1/email-verifications`,
`/v1/magic-links`, `/v1/magic-sms` (rules and reasons in `users/verification.py`).

Callers are services holding the `verification:write` scope: the Keycloak authenticators (with the
provider's client token, so the tenant is the token's) and frontends' servers. Because those calls
come from a server, a relay (a client that also holds `verification:client-ip`, as the provider's
does) names the end user's address in the body's `client_ip`; from anyone else that field is a 400,
since it would let a caller pick the address it is throttled by. Otherwise the connection's address
counts (past TRUSTED_PROXY_COUNT proxies). Sends are throttled per number or address and per client
IP (429 with Retry-After), counted in the shared database cache, the same for known and unknown values.
"""

from django.conf import settings
from django.shortcuts import get_object_or_404
from datetime import timedelta
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle

from identity.api.errors import ERRORS, ErrorSerializer
from identity.api.serializers import StrictSerializer
from identity.api.viewsets import TenantViewSet
from users import delivery, services, verification
from users.api.throttling import client_ip
from users.models import Verification

SCOPE = "verification:write"
RELAY_SCOPE = "verification:client-ip"
THROTTLED = {429: OpenApiResponse(ErrorSerializer, description="Too many sends to this value or from this IP.")}
UNDELIVERED = {503: OpenApiResponse(ErrorSerializer, description="The SMS or e-mail service failed; try again.")}
CLIENT_IP = serializers.IPAddressField(
    required=False, allow_null=True, default=None,
    help_text="The end user's IP, when a server calls on their behalf (throttling and records); only from "
              f"clients with the `{RELAY_SCOPE}` scope, such as the Keycloak provider.")


class DeliveryFailed(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "delivery_failed"


# --- payloads ---------------------------------------------------------------------------------


class PhoneVerificationRequestSerializer(StrictSerializer):
    phone_number = serializers.CharField(max_length=40, help_text="E.164, such as +15551234567.")
    client_ip = CLIENT_IP

    def validate_phone_number(self, value):
        return services.normalise_phone(value)


class EmailVerificationRequestSerializer(StrictSerializer):
    email = serializers.CharField(max_length=254)
    method = serializers.ChoiceField(["code", "link"], default="code",
                                     help_text="`code`: 6 digits, 10 minutes; `link`: a link, 24 hours.")
    client_ip = CLIENT_IP

    def validate_email(self, value):
        return services.normalise_email(value)


class VerificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Verification
        fields = ["id", "channel", "destination", "expires_at"]


class ConfirmSerializer(StrictSerializer):
    code = serializers.CharField(max_length=100, help_text="The 6-digit code, or the token of an e-mailed link.")


class ProofSerializer(serializers.Serializer):
    proof = serializers.CharField(help_text="Signed; give it to POST/PATCH /v1/users as "
                                            "`phone_verification_proof` or `email_verification_proof`.")
    channel = serializers.CharField()
    destination = serializers.CharField()
    expires_at = serializers.DateTimeField()


class MagicLinkRequestSerializer(StrictSerializer):
    email = serializers.CharField(max_length=254)
    state = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000,
                                  help_text="Opaque; put into the link's `{state}`, e.g. to resume a Keycloak flow.")
    client_ip = CLIENT_IP

    def validate_email(self, value):
        return services.normalise_email(value)


class MagicSmsRequestSerializer(StrictSerializer):
    phone_number = serializers.CharField(max_length=40)
    client_ip = CLIENT_IP

    def validate_phone_number(self, value):
        return services.normalise_phone(value)


class AcceptedSerializer(serializers.Serializer):
    status = serializers.CharField()
    message = serializers.CharField()


class RedeemLinkSerializer(StrictSerializer):
    token = serializers.CharField(max_length=200)


class RedeemSmsSerializer(StrictSerializer):
    phone_number = serializers.CharField(max_length=40)
    code = serializers.CharField(max_length=20)


class SignedInSerializer(serializers.Serializer):
    user_id = serializers.UUIDField(help_text="The user who signed in: the `sub` of their tokens.")


# --- throttles --------------------------------------------------------------------------------

SEND_ACTIONS = {
    "phone_create": (Verification.SMS, "phone_number"),
    "magic_sms": (Verification.SMS, "phone_number"),
    "email_create": (Verification.EMAIL, "email"),
    "magic_link": (Verification.EMAIL, "email"),
}


class SendPerDestinationThrottle(SimpleRateThrottle):
    """Sends per number or address in a tenant, whoever asks: verification and magic sign-in share
    the budget, so neither can be used to flood a phone or a mailbox."""

    scope = "verification_destination"

    def get_rate(self):
        return settings.VERIFICATION_SEND_RATE_PER_DESTINATION

    def get_cache_key(self, request, view):
        channel, field = SEND_ACTIONS[view.action]
        try:
            destination = verification.normalise_destination(channel, str(request.data.get(field) or ""))
        except Exception:
            return None  # invalid input: the view answers 400, nothing is sent
        return self.cache_format % {"scope": self.scope, "ident": f"{request.auth.tenant_id}:{channel}:{destination}"}


class SendPerIpThrottle(SimpleRateThrottle):
    """Sends per end user's address: a relay's `client_ip`, else the connection's (never a header
    or body field that any caller can make up)."""

    scope = "verification_ip"

    def get_rate(self):
        return settings.VERIFICATION_SEND_RATE_PER_IP

    def get_cache_key(self, request, view):
        ip = None
        if _is_relay(request) and request.data.get("client_ip"):
            try:
                ip = serializers.IPAddressField().run_validation(request.data.get("client_ip"))
            except serializers.ValidationError:
                pass  # the view answers 400
        return self.cache_format % {"scope": self.scope, "ident": ip or client_ip(request)}


def _is_relay(request) -> bool:
    return RELAY_SCOPE in request.auth.scopes


def _end_user_ip(request, data) -> str | None:
    """The body's `client_ip` from a relay, else the connection's address."""
    if data["client_ip"]:
        if not _is_relay(request):
            raise serializers.ValidationError({"client_ip": [
                f"Only clients with the '{RELAY_SCOPE}' scope (such as the Keycloak provider) may name the end "
                "user's address; leave it out to be counted by your own."]})
        return data["client_ip"]
    return client_ip(request)


# --- views ------------------------------------------------------------------------------------


def _valid(serializer_class, request):
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _accepted(what):
    return Response({"status": "accepted", "message": f"If this {what} is the verified {what} of an active user, a "
                                                      "message is on its way."}, status=status.HTTP_202_ACCEPTED)


class VerificationViewSet(TenantViewSet):
    read_scope = SCOPE
    write_scope = SCOPE

    def get_throttles(self):
        return [SendPerDestinationThrottle(), SendPerIpThrottle()] if self.action in SEND_ACTIONS else []

    def _start(self, channel, value, request, data, link=False):
        ip = _end_user_ip(request, data)
        try:
            row = verification.start_verification(self.tenant, channel, value, link=link, ip=ip)
        except delivery.DeliveryError as error:
            raise DeliveryFailed(str(error)) from None
        return Response(VerificationSerializer(row).data, status=status.HTTP_201_CREATED)

    def _confirm(self, channel, request, pk):
        row = get_object_or_404(Verification.objects.filter(tenant=self.tenant, channel=channel), pk=pk)
        proof = verification.confirm_verification(row, _valid(ConfirmSerializer, request)["code"])
        expires_at = row.confirmed_at + timedelta(seconds=settings.VERIFICATION_PROOF_MAX_AGE_SECONDS)
        return Response({"proof": proof, "channel": row.channel, "destination": row.destination,
                         "expires_at": expires_at})

    @extend_schema(
        summary="Send a code to a phone number", operation_id="phone_verifications_create",
        description="A 6-digit code by SMS, living 10 minutes, 5 tries. Throttled per number and per client IP.",
        request=PhoneVerificationRequestSerializer,
        responses={201: VerificationSerializer, **ERRORS, **THROTTLED, **UNDELIVERED},
    )
    def phone_create(self, request):
        data = _valid(PhoneVerificationRequestSerializer, request)
        return self._start(Verification.SMS, data["phone_number"], request, data)

    @extend_schema(
        summary="Confirm a phone number's code", operation_id="phone_verifications_confirm",
        description="Each call spends one of 5 tries; the right code returns a proof, once.",
        request=ConfirmSerializer, responses={200: ProofSerializer, **ERRORS},
    )
    def phone_confirm(self, request, pk):
        return self._confirm(Verification.SMS, request, pk)

    @extend_schema(
        summary="Send a code or link to an e-mail address", operation_id="email_verifications_create",
        description="`method=code`: 6 digits, 10 minutes; `method=link`: a link to `EMAIL_VERIFICATION_URL_TEMPLATE` "
                    "carrying the verification id and a token, 24 hours. 5 tries either way. Throttled per address "
                    "and per client IP.",
        request=EmailVerificationRequestSerializer,
        responses={201: VerificationSerializer, **ERRORS, **THROTTLED, **UNDELIVERED},
    )
    def email_create(self, request):
        data = _valid(EmailVerificationRequestSerializer, request)
        return self._start(Verification.EMAIL, data["email"], request, data, link=data["method"] == "link")

    @extend_schema(
        summary="Confirm an e-mail address's code or link", operation_id="email_verifications_confirm",
        description="Each call spends one of 5 tries; the right code or link token returns a proof, once.",
        request=ConfirmSerializer, responses={200: ProofSerializer, **ERRORS},
    )
    def email_confirm(self, request, pk):
        return self._confirm(Verification.EMAIL, request, pk)

    @extend_schema(
        summary="E-mail a magic sign-in link", operation_id="magic_links_create",
        description="Replaces the former GraphQL `magicEmailLogin`. Only a verified address is sent a link (never an "
                    "unverified or pending one); the same 202 whether or not it is sent. The link "
                    "(`MAGIC_LINK_URL_TEMPLATE`) works once, for 24 hours.",
        request=MagicLinkRequestSerializer,
        responses={202: AcceptedSerializer, **ERRORS, **THROTTLED},
    )
    def magic_link(self, request):
        data = _valid(MagicLinkRequestSerializer, request)
        verification.request_magic_link(self.tenant, data["email"], state=data["state"],
                                        ip=_end_user_ip(request, data))
        return _accepted("address")

    @extend_schema(
        summary="Sign in with a magic link's token", operation_id="magic_links_redeem",
        description="Single use. Any failure (unknown, expired, used, the address changed or no longer verified) is "
                    "the same 400.",
        request=RedeemLinkSerializer, responses={200: SignedInSerializer, **ERRORS},
    )
    def magic_link_redeem(self, request):
        user = verification.redeem_magic_link(self.tenant, _valid(RedeemLinkSerializer, request)["token"])
        return Response({"user_id": user.pk})

    @extend_schema(
        summary="Text a sign-in code", operation_id="magic_sms_create",
        description="Replaces the former GraphQL `magicSmsCode`. Only a verified number is sent a code (never an "
                    "unverified or pending one); the same 202 whether or not it is sent. The 6-digit code lives 10 "
                    "minutes and allows 5 tries.",
        request=MagicSmsRequestSerializer,
        responses={202: AcceptedSerializer, **ERRORS, **THROTTLED},
    )
    def magic_sms(self, request):
        data = _valid(MagicSmsRequestSerializer, request)
        verification.request_magic_sms(self.tenant, data["phone_number"], ip=_end_user_ip(request, data))
        return _accepted("number")

    @extend_schema(
        summary="Sign in with a texted code", operation_id="magic_sms_redeem",
        description="Replaces the former GraphQL `magicSmsLogin`. Only the number's newest code counts; each call spends one of its "
                    "5 tries. Any failure (the number changed or no longer verified included) is the same 400.",
        request=RedeemSmsSerializer, responses={200: SignedInSerializer, **ERRORS},
    )
    def magic_sms_redeem(self, request):
        data = _valid(RedeemSmsSerializer, request)
        user = verification.redeem_magic_sms(self.tenant, data["phone_number"], data["code"])
        return Response({"user_id": user.pk})
