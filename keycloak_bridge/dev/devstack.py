"""`make run`: the whole system on loopback — PostgreSQL, the backend, and Keycloak whose two realms
find their users in the backend. Ctrl-C stops all three.

PostgreSQL is a private cluster kept under `.run/postgres` (started as the tests start theirs, by
`tests/postgres.py`), so the users of one run are there in the next; the backend is Django's
development server on it. Keycloak keeps its own small database under `.run/keycloak`; the realms
are re-applied on every start, each with a fresh API token for the provider, so a restart always
begins from the configuration in `keycloak_bridge/realm/`.

Two realms, as in production: `demo`, a customer's (alice is its admin), and `operators`, whose
users alone sign in to the Django admin (dora). The admin trusts only the operators' realm
(`ADMIN_OIDC_ISSUER`): the secret of its `identity-admin` client is chosen here, before the backend
starts, and given to both; its issuer is recorded before the backend starts, which refuses to
start unless that issuer is the operators' tenant's. The password form is off: with single sign-on
it admits nobody.
"""

import base64
import hashlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import django
from django.core.management import call_command

from keycloak_bridge.dev.keycloak_runner import start_keycloak
from keycloak_bridge.dev.processes import wait_until_answers
from tests.postgres import Server, install_server

BACKEND_HOST = os.environ.get("HOST", "127.0.0.1")
BACKEND_PORT = int(os.environ.get("PORT", "8000"))
KEYCLOAK_PORT = int(os.environ.get("KEYCLOAK_PORT", "8080"))
REALM = "demo"
OPERATORS_REALM = "operators"
DEMO_PASSWORD = "demo-password-1"
ROOT = Path(__file__).resolve().parents[2]
RUN_DIR = ROOT / ".run"
KEYCLOAK_URL = f"http://127.0.0.1:{KEYCLOAK_PORT}"
BACKEND_URL = f"http://{BACKEND_HOST}:{BACKEND_PORT}"
OPERATORS_ISSUER = f"{KEYCLOAK_URL}/realms/{OPERATORS_REALM}"
# The admin's single sign-on through the operators' realm (keycloak_bridge/admin_sso.py), for this
# process and the backend's: the realm is applied with this client secret.
ADMIN_CLIENT_SECRET = secrets.token_urlsafe(32)
os.environ.update(ADMIN_OIDC_ISSUER=OPERATORS_ISSUER, ADMIN_OIDC_CLIENT_ID="identity-admin",
                  ADMIN_OIDC_CLIENT_SECRET=ADMIN_CLIENT_SECRET, ADMIN_PASSWORD_LOGIN="false")
# The key of the realms' identity-backend client secrets (keycloak_bridge/sessions.py): connect_keycloak
# gives each realm its secret, and the backend signs users out with it.
os.environ.setdefault("KEYCLOAK_ADMIN_CLIENT_KEY", secrets.token_urlsafe(32))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "identity.settings")


def say(message):
    print(f"[run] {message}", flush=True)


def prepare_backend(database_url: str):
    """Django on the cluster (settings read DATABASE_URL), migrated, with the demo and operators'
    tenants seeded and the operators' issuer recorded (connect_keycloak records it again)."""
    os.environ["DATABASE_URL"] = database_url
    django.setup()
    from users.models import Tenant

    call_command("migrate", interactive=False, verbosity=0)
    call_command("seed_demo", tenant=REALM, operators_tenant=OPERATORS_REALM, backend_url=BACKEND_URL,
                 user_password=DEMO_PASSWORD)
    Tenant.objects.filter(slug=OPERATORS_REALM).update(oidc_issuer=OPERATORS_ISSUER)


def start_backend() -> subprocess.Popen:
    url = BACKEND_URL
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"{BACKEND_HOST}:{BACKEND_PORT}"], cwd=ROOT,
        start_new_session=True,
    )
    if wait_until_answers(f"{url}/healthz", 30, process):
        return process
    if process.poll() is not None:
        raise SystemExit(f"The backend did not start; is port {BACKEND_PORT} free? (PORT=… changes it)")
    raise SystemExit("The backend did not answer /healthz within 30 s.")


def sign_in_url(base, client_id, redirect_uri, verifier):
    """An authorization request with PKCE to the demo realm (its public clients require it)."""
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return f"{base}/realms/{REALM}/protocol/openid-connect/auth?" + urllib.parse.urlencode({
        "client_id": client_id, "redirect_uri": redirect_uri, "response_type": "code", "scope": "openid",
        "code_challenge": challenge, "code_challenge_method": "S256"})


def main():
    postgres = backend = keycloak = None
    try:
        postgres = Server(install_server(), fast=False, data_dir=RUN_DIR / "postgres")
        postgres.start()
        prepare_backend(postgres.url)
        backend = start_backend()
        say("starting Keycloak (the first start builds the provider and downloads Keycloak; then ~30 s)")
        keycloak = start_keycloak(port=KEYCLOAK_PORT, data_dir=RUN_DIR / "keycloak")
        redirect_uris = [f"{BACKEND_URL}/*", "http://localhost:3000/*"]
        for realm, operators in ((REALM, False), (OPERATORS_REALM, True)):
            call_command("connect_keycloak", tenant=realm, keycloak_url=keycloak.base_url, backend_url=BACKEND_URL,
                         admin_user=keycloak.admin_user, admin_password=keycloak.admin_password,
                         admin_client_secret=ADMIN_CLIENT_SECRET, redirect_uris=redirect_uris, operators=operators)
        base = keycloak.base_url
        # Where the two flows below land: the code is in the address bar; the page itself is the
        # backend's health probe, since make run has no frontend.
        landing = f"{BACKEND_URL}/healthz"
        verifier = secrets.token_urlsafe(48)
        say("ready. Everything below runs until Ctrl-C.")
        print(f"""
  Django admin             {BACKEND_URL}/admin/   "Sign in with Keycloak" (the {OPERATORS_REALM} realm):
                           dora / {DEMO_PASSWORD} (staff by her backend role operator), or operator and
                           the password printed above (operator and superuser)
  Keycloak admin console   {base}/admin/   ({keycloak.admin_user} / {keycloak.admin_password})
  Demo realm               {REALM}: a customer's; users live in the backend, found through the provider;
                           sessions per user: the tenant's session limit (the seed's 3, a 4th login
                           ending the oldest), set in the admin and applied at each start
  Operators' realm         {OPERATORS_REALM}: the only one the admin trusts; its tenant is read-only through /v1
  Demo realm account page  {base}/realms/{REALM}/account/   (alice / {DEMO_PASSWORD})
  A token for alice        curl -s -d grant_type=password -d client_id=identity-frontend \\
                             -d username=alice -d password={DEMO_PASSWORD} \\
                             {base}/realms/{REALM}/protocol/openid-connect/token
  A token for dora         the same with -d username=dora, at
                             {base}/realms/{OPERATORS_REALM}/protocol/openid-connect/token
  PostgreSQL               {postgres.url}   (data kept in {postgres.data.relative_to(ROOT)})

  Sign up or in by phone   {sign_in_url(base, "identity-enroll", landing, verifier)}
                           any number, such as +15557654321: the texted code is printed here ("sms to …")
  Passwordless sign-in     {sign_in_url(base, "identity-passwordless", landing, verifier)}
                           alice@example.com: the e-mail with the link is printed here; or "Try Another
                           Way" → "Text me a sign-in code" to alice's +15551230001
  Either ends on {landing}?…&code=…; the code gives tokens (within a minute):
                           curl -s -d grant_type=authorization_code -d client_id=<identity-enroll or
                             identity-passwordless> -d redirect_uri={landing} \\
                             -d code_verifier={verifier} -d code=<code> \\
                             {base}/realms/{REALM}/protocol/openid-connect/token
""", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not cut the shutdown short and leave a server behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        say("stopping")
        if keycloak is not None:
            keycloak.stop()
        if backend is not None:
            backend.terminate()
            try:
                backend.wait(timeout=10)
            except subprocess.TimeoutExpired:
                backend.kill()
        if postgres is not None:
            postgres.stop()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)  # also when started with SIGINT ignored (in the background)
    main()
