"""The Sentry endpoints with hand-built requests: every encoding, every auth path, every bad input."""

import gzip
import json
import uuid
import zlib

import brotli
import pytest

from monitoring.models import ErrorEvent, Job, JobRun

pytestmark = pytest.mark.django_db


def envelope(*items, header=None) -> bytes:
    lines = [json.dumps(header or {}).encode()]
    for item_header, payload in items:
        lines += [json.dumps(item_header).encode(), payload]
    return b"\n".join(lines) + b"\n"


def event_item(event_id=None, **fields):
    event = {"event_id": event_id or uuid.uuid4().hex, "level": "error", "platform": "python"}
    event.update(fields)
    if "exception" not in event and "message" not in event:
        event["exception"] = {"values": [{"type": "ValueError", "value": "bad value 42"}]}
    payload = json.dumps(event).encode()
    return {"type": "event", "length": len(payload)}, payload


def auth(project) -> dict:
    return {
        "HTTP_X_SENTRY_AUTH": f"Sentry sentry_key={project.public_key}, sentry_version=7, "
        "sentry_client=test/1.0"
    }


def post_envelope(client, project, body, project_id=None, headers=None, path="envelope"):
    headers = auth(project) if headers is None else headers
    return client.post(
        f"/api/{project_id or project.pk}/{path}/",
        data=body,
        content_type="application/x-sentry-envelope",
        **headers,
    )


def test_an_event_is_stored_and_answered_with_its_id(client, project):
    event_id = uuid.uuid4().hex
    response = post_envelope(client, project, envelope(event_item(event_id, release="1.2.3")))
    assert response.status_code == 200
    assert response.json() == {"id": event_id}
    stored = ErrorEvent.objects.get(project=project)
    assert stored.event_id.hex == event_id
    assert stored.release == "1.2.3"
    assert stored.group is None  # grouping is Celery's job
    assert stored.payload["exception"]["values"][0]["value"] == "bad value 42"


@pytest.mark.parametrize(
    "encoding, compress",
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),  # zlib-wrapped, per the RFC
        ("deflate", lambda data: zlib.compress(data, wbits=-15)),  # raw, as some clients send
        ("br", brotli.compress),
        ("identity", lambda data: data),
    ],
)
def test_compressed_bodies(client, project, encoding, compress):
    event_id = uuid.uuid4().hex
    body = compress(envelope(event_item(event_id)))
    response = post_envelope(
        client, project, body, headers={**auth(project), "HTTP_CONTENT_ENCODING": encoding}
    )
    assert response.status_code == 200, response.content
    assert ErrorEvent.objects.filter(project=project, event_id=event_id).exists()


def test_key_in_query_string(client, project):
    response = client.post(
        f"/api/{project.pk}/envelope/?sentry_key={project.public_key}&sentry_version=7",
        data=envelope(event_item()),
        content_type="application/x-sentry-envelope",
    )
    assert response.status_code == 200


def test_key_in_the_envelope_header_dsn(client, project):
    dsn = f"http://{project.public_key}@testserver/{project.pk}"
    body = envelope(event_item(), header={"dsn": dsn, "sent_at": "2026-01-01T00:00:00Z"})
    response = post_envelope(client, project, body, headers={})
    assert response.status_code == 200
    assert ErrorEvent.objects.filter(project=project).count() == 1


def test_a_retried_event_is_stored_once(client, project):
    event_id = uuid.uuid4().hex
    body = envelope(event_item(event_id))
    assert post_envelope(client, project, body).status_code == 200
    assert post_envelope(client, project, body).status_code == 200
    assert ErrorEvent.objects.filter(project=project).count() == 1


def test_other_item_types_are_read_and_ignored(client, project):
    session = json.dumps({"sid": uuid.uuid4().hex, "status": "ok"}).encode()
    report = json.dumps({"discarded_events": []}).encode()
    attachment = b"\x00\x01binary\nwith newlines\n"
    transaction = json.dumps({"type": "transaction", "spans": []}).encode()
    body = envelope(
        ({"type": "session"}, session),
        ({"type": "client_report", "length": len(report)}, report),
        ({"type": "attachment", "length": len(attachment), "filename": "a.bin"}, attachment),
        ({"type": "transaction", "length": len(transaction)}, transaction),
        ({"type": "profile", "length": 2}, b"{}"),
        event_item(),
    )
    response = post_envelope(client, project, body)
    assert response.status_code == 200, response.content
    assert ErrorEvent.objects.filter(project=project).count() == 1


def test_store_endpoint(client, project):
    event_id = uuid.uuid4().hex
    event = {"event_id": event_id, "message": "legacy store", "level": "error"}
    response = client.post(
        f"/api/{project.pk}/store/",
        data=gzip.compress(json.dumps(event).encode()),
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
        **auth(project),
    )
    assert response.status_code == 200
    assert response.json() == {"id": event_id}
    assert ErrorEvent.objects.get(project=project).payload["message"] == "legacy store"


def test_store_endpoint_accepts_base64_zlib_of_old_sdks(client, project):
    import base64

    event = {"event_id": uuid.uuid4().hex, "message": "old sdk"}
    body = base64.b64encode(zlib.compress(json.dumps(event).encode()))
    response = client.post(
        f"/api/{project.pk}/store/", data=body, content_type="text/plain", **auth(project)
    )
    assert response.status_code == 200
    assert ErrorEvent.objects.filter(project=project).count() == 1


def test_nul_characters_and_lone_surrogates_are_stored_cleaned(client, project):
    raw = (
        b'{"event_id": "%s", "message": "nul \\u0000 and \\ud800 here"}' % uuid.uuid4().hex.encode()
    )
    response = post_envelope(client, project, envelope(({"type": "event"}, raw)))
    assert response.status_code == 200
    assert "\x00" not in ErrorEvent.objects.get(project=project).payload["message"]


# --- bad input: a reason, the right status, nothing stored ---------------------------------------


def assert_refused(response, status, reason_fragment):
    assert response.status_code == status, response.content
    assert reason_fragment.lower() in response.json()["detail"].lower()


def test_missing_key_is_401(client, project):
    assert_refused(post_envelope(client, project, envelope(event_item()), headers={}), 401, "key")
    assert not ErrorEvent.objects.exists()


def test_wrong_key_is_403(client, project, other_user):
    from selfheal.services import create_project

    other = create_project(other_user, "Other")
    headers = auth(other)  # a real key, of another project
    assert_refused(
        post_envelope(client, project, envelope(event_item()), headers=headers),
        403,
        "not this project",
    )
    body = envelope(event_item(), header={"dsn": f"http://{project.public_key}@x/{other.pk}"})
    assert_refused(post_envelope(client, project, body, headers={}), 403, "another project")
    assert not ErrorEvent.objects.exists()


def test_unknown_project_is_404(client, project):
    response = post_envelope(client, project, envelope(event_item()), project_id=987654)
    assert_refused(response, 404, "not found")
    response = post_envelope(client, project, envelope(event_item()), project_id=10**30)
    assert_refused(response, 404, "not found")


def test_body_over_the_limit_is_413(client, project, settings):
    settings.MONITORING_MAX_BODY_BYTES = 2000
    big = envelope(event_item(message="x" * 5000))
    assert_refused(post_envelope(client, project, big), 413, "limit")
    assert not ErrorEvent.objects.exists()


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_decompression_bomb_is_413_without_inflating_it(client, project, settings, encoding):
    settings.MONITORING_MAX_DECOMPRESSED_BYTES = 1024 * 1024
    zeros = b"\0" * (32 * 1024 * 1024)  # 32 MiB of zeros: a few dozen KiB compressed
    compress = {
        "gzip": lambda data: gzip.compress(data, compresslevel=1),
        "deflate": lambda data: zlib.compress(data, 1),
        "br": lambda data: brotli.compress(data, quality=1),
    }[encoding]
    bomb = compress(zeros)
    assert len(bomb) < 200_000
    response = post_envelope(
        client, project, bomb, headers={**auth(project), "HTTP_CONTENT_ENCODING": encoding}
    )
    assert_refused(response, 413, "decompressed")


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"{not json\n", "envelope header"),
        (b"{}\n" + b'{"type": "event"}\n{"event_id": ', "not valid JSON"),
        (b"{}\n" + b'{"length": 2}\n{}\n', "no type"),
        (b"{}\n" + b'["a list"]\n{}\n', "header of item 1"),
        (b"{}\n" + b'{"type": "event", "length": 500}\n{"message": "short"}\n', "ends before"),
        (b"{}\n" + b'{"type": "event", "length": 3}\n{"message": "x"}\n', "length does not match"),
        (b"{}\n" + b'{"type": "event", "length": -1}\n{}\n', "invalid length"),
        (b"{}\n" + b'{"type": "event"}\n[1, 2]\n', "must be a JSON object"),
        (b"{}\n" + b'{"type": "event"}\n{"event_id": "not-hex"}\n', "event_id"),
        (b"{}\n" + b'{"type": "check_in"}\n{"status": "ok"}\n', "monitor_slug"),
        (b"{}\n" + b'{"type": "event"}\n{"extra": {"ratio": NaN}}\n', "NaN is not JSON"),
    ],
)
def test_broken_envelopes_are_400_with_a_reason(client, project, body, reason):
    assert_refused(post_envelope(client, project, body), 400, reason)
    assert not ErrorEvent.objects.exists()


def test_a_broken_item_after_a_good_event_stores_nothing(client, project):
    body = envelope(event_item(), ({"type": "event", "length": 9999}, b"{}"))
    assert_refused(post_envelope(client, project, body), 400, "ends before")
    assert not ErrorEvent.objects.exists()


def test_bad_gzip_is_400(client, project):
    good = gzip.compress(envelope(event_item()))
    for body in (b"this is not gzip at all", good[: len(good) // 2]):
        response = post_envelope(
            client, project, body, headers={**auth(project), "HTTP_CONTENT_ENCODING": "gzip"}
        )
        assert_refused(response, 400, "gzip")
    assert not ErrorEvent.objects.exists()


def test_bad_brotli_and_unknown_encoding(client, project):
    response = post_envelope(
        client,
        project,
        b"\xff\xfe garbage",
        headers={**auth(project), "HTTP_CONTENT_ENCODING": "br"},
    )
    assert_refused(response, 400, "brotli")
    response = post_envelope(
        client, project, b"x", headers={**auth(project), "HTTP_CONTENT_ENCODING": "zstd"}
    )
    assert_refused(response, 415, "zstd")


def test_store_with_malformed_json_is_400(client, project):
    response = client.post(
        f"/api/{project.pk}/store/", data=b"{oops", content_type="application/json", **auth(project)
    )
    assert_refused(response, 400, "")


def test_too_many_requests_is_429_with_retry_after(client, project, settings):
    settings.MONITORING_RATE_LIMIT_PER_MINUTE = 3
    statuses = [
        post_envelope(client, project, envelope(event_item())).status_code for _ in range(5)
    ]
    assert statuses[:3] == [200, 200, 200]
    assert statuses[3:] == [429, 429]
    response = post_envelope(client, project, envelope(event_item()))
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "more than 3" in response.json()["detail"]
    assert ErrorEvent.objects.filter(project=project).count() == 3


def test_get_is_not_allowed(client, project):
    assert client.get(f"/api/{project.pk}/envelope/").status_code == 405


# --- check-ins ------------------------------------------------------------------------------------


def test_check_in_items_become_job_runs(client, project):
    check_in_id = uuid.uuid4().hex
    start = json.dumps({"check_in_id": check_in_id, "monitor_slug": "nightly-report", "status": "in_progress",
                        "monitor_config": {"schedule": {"type": "crontab", "value": "0 2 * * *"}, "max_runtime": 30}}).encode()  # fmt: skip
    done = json.dumps({"check_in_id": check_in_id, "monitor_slug": "nightly-report", "status": "ok", "duration": 12.5}).encode()  # fmt: skip
    assert (
        post_envelope(client, project, envelope(({"type": "check_in"}, start))).status_code == 200
    )
    job = Job.objects.get(project=project, slug="nightly-report")
    assert job.stuck_after.total_seconds() == 30 * 60  # from the monitor's max_runtime
    run = JobRun.objects.get(job=job)
    assert run.status == "running" and run.rid.hex == check_in_id
    assert post_envelope(client, project, envelope(({"type": "check_in"}, done))).status_code == 200
    run.refresh_from_db()
    job.refresh_from_db()
    assert run.status == "succeeded"
    assert job.status == "up"
    assert job.pings.count() == 2
