"""Uniqueness under real concurrent HTTP requests: the database decides, never a 500."""

import json
import threading
import urllib.error
import urllib.request

import pytest

from users.models import User

pytestmark = pytest.mark.django_db(transaction=True)


def post(url, token, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or "null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def race(count, target):
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(i):
        barrier.wait()
        results[i] = target(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_creates_with_one_email_give_one_201_and_409s(live_server, api, tenant):
    results = race(8, lambda i: post(f"{live_server.url}/v1/users", api.token,
                                     {"username": f"racer{i}", "email": "same@example.com"}))
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * 7, results
    assert all(body["fields"] == {"email": [body["message"]]} for status, body in results if status == 409)
    assert User.objects.filter(tenant=tenant, email="same@example.com").count() == 1


def test_concurrent_first_logins_count_every_login(live_server, api, tenant):
    user = User.objects.create(tenant=tenant, username="busy")
    results = race(6, lambda i: post(f"{live_server.url}/v1/users/{user.pk}:record-login", api.token,
                                     {"client": f"c{i}"}))
    assert [status for status, _ in results] == [204] * 6, results
    user.login.refresh_from_db()
    assert user.login.login_count == 6


def test_concurrent_wrong_guesses_never_exceed_five_attempts(live_server, make_client, tenant, settings):
    from users import verification
    from users.models import Verification

    settings.SMS_BACKEND = "users.delivery.ConsoleSms"
    client = make_client(tenant, ["verification:write"])
    row = verification.start_verification(tenant, Verification.SMS, "+15550001111")
    results = race(12, lambda i: post(f"{live_server.url}/v1/phone-verifications/{row.pk}:confirm",
                                      client.token, {"code": "x"}))
    assert [status for status, _ in results] == [400] * 12, results
    wrong = [body for _, body in results if body["fields"]["code"] == ["This code is wrong."]]
    assert len(wrong) == 5  # only five guesses were ever compared
    row.refresh_from_db()
    assert row.attempts == 5
