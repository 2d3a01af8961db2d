from rest_framework import authentication, exceptions


def bearer_token(request) -> str | None:
    """The token of `Authorization: Bearer <token>`, or None when there is no bearer header; a
    malformed one is refused, whichever kind of token it was meant to carry."""
    header = authentication.get_authorization_header(request).split()
    if not header or header[0].lower() != b"bearer":
        return None
    if len(header) != 2:
        raise exceptions.AuthenticationFailed("Send exactly one token: 'Authorization: Bearer <token>'.")
    try:
        return header[1].decode()
    except UnicodeError:
        raise exceptions.AuthenticationFailed("The token is not valid text.") from None
