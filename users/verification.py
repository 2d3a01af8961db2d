"""Phone and e-mail verification codes, and magic sign-in links and SMS codes (the former GraphQL API's verifyPhone,
verifyEmail, magicEmailLogin, magicSmsCode and magicSmsLogin). The only place that writes
`Verification` and `MagicToken`.

Decisions:

- **Codes** are 6 random digits from `secrets`; links carry 256 random bits. Only an HMAC-SHA256 is
  stored, keyed by SECRET_KEY and the row's id (`salted_hmac`): a million codes are no obstacle to an
  offline search of a plain hash, a keyed one needs the key. Comparisons are constant-time.
- **Attempts** are claimed before a guess is compared, by one conditional
  `UPDATE … SET attempts = attempts + 1 WHERE attempts < 5 AND unspent AND unexpired`: however many
  guesses arrive at once, at most five are ever compared, and after five the code is dead, the
  right one included. A right code is spent by a second conditional update, so it works once.
- **Verification** proves control of a value, not of an account: `confirm` returns a signed proof
  (`django.core.signing`, salted, carrying tenant, channel, value and verification id; valid
  `VERIFICATION_PROOF_MAX_AGE_SECONDS`) that `POST`/`PATCH /v1/users` accept as
  `phone_verification_proof` / `email_verification_proof` to set `phone_verified` /
  `email_verified`, if the user's value is the proven one. This serves both the find-or-create step
  of sign-up (the user does not exist yet) and a change of number or address: a person's new value
  is pending (`users.services.update_own_profile`) until a proof of it promotes it.
- **Magic sign-in uses verified values only.** An unverified value may have been typed by anyone
  (an admin's import, Keycloak on a person's behalf), and a pending one is not the account's yet:
  signing its holder in would hand them an account someone else prepared. So an address or
  number that only an unverified or pending value matches is an unknown one: a decoy, no message.
- **Magic sign-in never tells whether a value belongs to a user.** A request looks the user up,
  writes one `MagicToken` row either way (a decoy with no user when nobody has the value, which can
  never be redeemed), answers the same, and hands the send to a background thread
  (`users.delivery.send_in_background`), so neither the answer nor its timing depends on the
  user's existence. What remains observable is the message itself, to its recipient, and the load
  the send puts on the process. A redeem that fails for any reason (wrong, expired, used, decoy,
  deactivated user, changed or no longer verified address) is one generic error.
- Only the newest outstanding SMS code of a number can be redeemed, so one guess is compared with
  one code, not with every code a number has been sent.
- A token is refused if the user's address or number changed, or lost its verification, since
  it was sent.
"""

import hmac
import secrets
from datetime import timedelta
from urllib.parse import quote

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac

from . import delivery, services
from .models import MagicToken, Tenant, User, Verification

MAX_ATTEMPTS = 5
PROOF_SALT = "users.verification.proof"
FIELD = {Verification.SMS: "phone_number", Verification.EMAIL: "email"}
FLAG = {Verification.SMS: "phone_verified", Verification.EMAIL: "email_verified"}


def _hash(kind: str, key, secret: str) -> str:
    return salted_hmac(f"users.{kind}:{key}", secret, algorithm="sha256").hexdigest()


def _matches(stored: str, kind: str, key, secret: str) -> bool:
    return hmac.compare_digest(stored, _hash(kind, key, secret))


def new_code() -> str:
    return f"{secrets.randbelow(10 ** 6):06d}"


def normalise_destination(channel: str, value: str) -> str:
    """E.164 for numbers, lower case for addresses; errors are keyed by the API field."""
    field = FIELD[channel]
    try:
        value = services.normalise_phone(value) if channel == Verification.SMS else services.normalise_email(value)
    except ValidationError as error:
        raise ValidationError({field: error.messages}) from None
    if not value:
        raise ValidationError({field: "This field is required."})
    return value


def _fill(template: str, **values) -> str:
    """`{name}` placeholders, URL-quoted; other braces in the template are left alone."""
    for name, value in values.items():
        template = template.replace("{" + name + "}", quote(str(value), safe=""))
    return template


# --- verification of a number or address ------------------------------------------------------


def start_verification(tenant: Tenant, channel: str, destination: str, *, link: bool = False,
                       ip: str | None = None) -> Verification:
    """Store a hashed code and send it now (a failed send raises `delivery.DeliveryError`).

    An e-mail may carry a link instead of a code (`link`): a 256-bit token in
    `EMAIL_VERIFICATION_URL_TEMPLATE`, living `VERIFICATION_LINK_TTL_SECONDS`; the page it opens
    confirms it with the same call as a code.
    """
    destination = normalise_destination(channel, destination)
    link = link and channel == Verification.EMAIL
    verification = Verification(tenant=tenant, channel=channel, destination=destination, created_ip=ip or None)
    secret = secrets.token_urlsafe(32) if link else new_code()
    ttl = settings.VERIFICATION_LINK_TTL_SECONDS if link else settings.VERIFICATION_CODE_TTL_SECONDS
    verification.code_hash = _hash("verification", verification.id, secret)
    verification.expires_at = timezone.now() + timedelta(seconds=ttl)
    verification.save(force_insert=True)
    site = tenant.display_name
    if channel == Verification.SMS:
        delivery.send_sms(destination, f"{secret} is your {site} verification code. It expires in {ttl // 60} minutes.")
    elif link:
        url = _fill(settings.EMAIL_VERIFICATION_URL_TEMPLATE, id=verification.id, code=secret, tenant=tenant.slug)
        delivery.send_email(destination, f"Confirm your e-mail address for {site}",
                            f"Open this link to confirm your address:\n\n{url}\n\n"
                            f"It works once, for {ttl // 3600} hours. If you did not ask for it, ignore this e-mail.")
    else:
        delivery.send_email(destination, f"Your {site} verification code",
                            f"Your verification code is {secret}. It expires in {ttl // 60} minutes.\n\n"
                            "If you did not ask for it, ignore this e-mail.")
    return verification


def confirm_verification(verification: Verification, code: str) -> str:
    """Spend one attempt on `code`; the right one returns a signed proof, once."""
    now = timezone.now()
    live = Verification.objects.filter(pk=verification.pk, confirmed_at__isnull=True, expires_at__gt=now,
                                       attempts__lt=MAX_ATTEMPTS)
    if not live.update(attempts=F("attempts") + 1):
        raise ValidationError({"code": "This code has expired, was used, or had too many wrong tries: ask for a new one."})
    if not _matches(verification.code_hash, "verification", verification.pk, (code or "").strip()):
        raise ValidationError({"code": "This code is wrong."})
    # The claim above may have used the last attempt: spending does not look at `attempts` again.
    if not Verification.objects.filter(pk=verification.pk, confirmed_at__isnull=True).update(confirmed_at=now):
        raise ValidationError({"code": "This code has expired, was used, or had too many wrong tries: ask for a new one."})
    verification.confirmed_at = now
    return signing.dumps({"tenant": verification.tenant_id, "channel": verification.channel,
                          "destination": verification.destination, "verification": str(verification.pk)},
                         salt=PROOF_SALT, compress=True)


def check_proof(tenant: Tenant, channel: str, proof: str, field: str) -> str:
    """The value a proof vouches for, if it is this tenant's, of this channel and fresh."""
    try:
        claims = signing.loads(proof, salt=PROOF_SALT, max_age=settings.VERIFICATION_PROOF_MAX_AGE_SECONDS)
    except signing.SignatureExpired:
        raise ValidationError({field: "This proof has expired: verify the value again."}) from None
    except signing.BadSignature:
        raise ValidationError({field: "This is not a valid verification proof."}) from None
    if claims.get("tenant") != tenant.id or claims.get("channel") != channel:
        raise ValidationError({field: "This is not a valid verification proof."})
    return claims["destination"]


# --- magic sign-in ----------------------------------------------------------------------------

INVALID_LINK = {"token": "This link is invalid, expired or already used: ask for a new one."}
INVALID_CODE = {"code": "This code is wrong, expired or already used: ask for a new one."}


def _owner(tenant: Tenant, channel: str, destination: str) -> User | None:
    """The active user whose verified value this is."""
    return User.objects.filter(tenant=tenant, is_active=True, **{FIELD[channel]: destination, FLAG[channel]: True}
                               ).first()


def _still_owns(user: User | None, channel: str, destination: str) -> bool:
    return (user is not None and user.is_active and getattr(user, FIELD[channel]) == destination
            and getattr(user, FLAG[channel]))


def request_magic_link(tenant: Tenant, email: str, *, state: str = "", ip: str | None = None) -> None:
    """Store a link token and, if an active user has the address verified, e-mail the link (in the background)."""
    destination = normalise_destination(Verification.EMAIL, email)
    user = _owner(tenant, Verification.EMAIL, destination)
    token = secrets.token_urlsafe(32)
    ttl = settings.MAGIC_LINK_TTL_SECONDS
    MagicToken.objects.create(tenant=tenant, user=user, channel=Verification.EMAIL, destination=destination,
                              token_hash=_hash("magic-link", tenant.id, token), created_ip=ip or None,
                              expires_at=timezone.now() + timedelta(seconds=ttl))
    if user is not None:
        url = _fill(settings.MAGIC_LINK_URL_TEMPLATE, token=token, tenant=tenant.slug, state=state)
        delivery.send_in_background(
            delivery.send_email, destination, f"Sign in to {tenant.display_name}",
            f"Open this link to sign in:\n\n{url}\n\nIt works once, for {ttl // 3600} hours. "
            "If you did not ask for it, ignore this e-mail.")


@transaction.atomic
def redeem_magic_link(tenant: Tenant, token: str) -> User:
    row = (MagicToken.objects.select_for_update().select_related("user")
           .filter(tenant=tenant, channel=Verification.EMAIL, token_hash=_hash("magic-link", tenant.id, token or ""),
                   used_at__isnull=True, expires_at__gt=timezone.now(), user__isnull=False)
           .first())
    if row is None or not _still_owns(row.user, Verification.EMAIL, row.destination):
        raise ValidationError(INVALID_LINK)
    row.used_at = timezone.now()
    row.save(update_fields=["used_at"])
    return row.user


def request_magic_sms(tenant: Tenant, phone_number: str, *, ip: str | None = None) -> None:
    """Store a hashed 6-digit code and, if an active user has the number verified, text it (in the background)."""
    destination = normalise_destination(Verification.SMS, phone_number)
    user = _owner(tenant, Verification.SMS, destination)
    code = new_code()
    ttl = settings.MAGIC_SMS_TTL_SECONDS
    row = MagicToken(tenant=tenant, user=user, channel=Verification.SMS, destination=destination,
                     created_ip=ip or None, expires_at=timezone.now() + timedelta(seconds=ttl))
    row.token_hash = _hash("magic-sms", row.id, code)
    row.save(force_insert=True)
    if user is not None:
        delivery.send_in_background(
            delivery.send_sms, destination,
            f"{code} is your {tenant.display_name} sign-in code. It expires in {ttl // 60} minutes.")


def redeem_magic_sms(tenant: Tenant, phone_number: str, code: str) -> User:
    """Spend one attempt of the number's newest outstanding code; the right code signs in once."""
    try:
        destination = normalise_destination(Verification.SMS, phone_number)
    except ValidationError:
        raise ValidationError(INVALID_CODE) from None
    now = timezone.now()
    row = (MagicToken.objects.select_related("user")
           .filter(tenant=tenant, channel=Verification.SMS, destination=destination, used_at__isnull=True)
           .order_by("-created_at").first())
    if row is None:
        raise ValidationError(INVALID_CODE)
    live = MagicToken.objects.filter(pk=row.pk, used_at__isnull=True, expires_at__gt=now, attempts__lt=MAX_ATTEMPTS)
    if not live.update(attempts=F("attempts") + 1):
        raise ValidationError(INVALID_CODE)
    if not _matches(row.token_hash, "magic-sms", row.pk, (code or "").strip()):
        raise ValidationError(INVALID_CODE)
    user = row.user
    spend = MagicToken.objects.filter(pk=row.pk, used_at__isnull=True)
    if not _still_owns(user, Verification.SMS, destination) or not spend.update(used_at=now):
        raise ValidationError(INVALID_CODE)
    return user
