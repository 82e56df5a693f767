"""Sentry-compatible ingest, the HTTP-free half: bodies, auth headers, envelopes, event payloads.

Everything here either returns clean data or raises `IngestError` with the HTTP status and a reason
for the client; nothing here touches the database.
"""

import base64
import binascii
import json
import re
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import brotli
from django.conf import settings


def max_body_bytes() -> int:
    return getattr(settings, "MONITORING_MAX_BODY_BYTES", 1024 * 1024)


def max_decompressed_bytes() -> int:
    return getattr(settings, "MONITORING_MAX_DECOMPRESSED_BYTES", 5 * 1024 * 1024)


class IngestError(Exception):
    def __init__(self, status: int, reason: str, retry_after: int | None = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after


def too_large(what: str, limit: int) -> IngestError:
    return IngestError(413, f"{what} is larger than the limit of {limit} bytes.")


# --- bodies -------------------------------------------------------------------------------------

_READ_CHUNK = 64 * 1024


def _inflate(body: bytes, wbits: int, limit: int, name: str) -> bytes:
    """Decompress without ever holding more than `limit` + one chunk: a bomb stops at the cap."""
    decompressor = zlib.decompressobj(wbits)
    out = bytearray()
    data = body
    try:
        while True:
            out += decompressor.decompress(data, min(_READ_CHUNK, limit + 1 - len(out)))
            if len(out) > limit:
                raise too_large("The decompressed body", limit)
            data = decompressor.unconsumed_tail
            if not data:
                break
        out += decompressor.flush()
    except zlib.error as exc:
        raise IngestError(400, f"The body is not valid {name} data ({exc}).") from exc
    if len(out) > limit:
        raise too_large("The decompressed body", limit)
    if not decompressor.eof:
        raise IngestError(400, f"The {name} body is truncated.")
    return bytes(out)


def _looks_like_zlib(body: bytes) -> bool:
    # RFC 1950 header: deflate method, 32K window or less, and a header checksum.
    return len(body) >= 2 and body[0] & 0x0F == 8 and (body[0] << 8 | body[1]) % 31 == 0


def _unbrotli(body: bytes, limit: int) -> bytes:
    decompressor = brotli.Decompressor()
    try:
        out = bytearray(decompressor.process(body, output_buffer_limit=_READ_CHUNK))
        while len(out) <= limit and not decompressor.can_accept_more_data():
            out += decompressor.process(b"", output_buffer_limit=_READ_CHUNK)
    except brotli.error as exc:
        raise IngestError(400, "The body is not valid brotli data.") from exc
    if len(out) > limit:
        raise too_large("The decompressed body", limit)
    if not decompressor.is_finished():
        raise IngestError(400, "The brotli body is truncated.")
    return bytes(out)


def decode_body(body: bytes, content_encoding: str, limit: int | None = None) -> bytes:
    """Undo `Content-Encoding` (identity, gzip, deflate with or without the zlib wrapper, br)."""
    limit = max_decompressed_bytes() if limit is None else limit
    encodings = [e.strip().lower() for e in content_encoding.split(",") if e.strip()]
    for encoding in reversed(encodings):  # applied in order, undone in reverse
        if encoding == "identity":
            continue
        if encoding in ("gzip", "x-gzip"):
            body = _inflate(body, 16 + zlib.MAX_WBITS, limit, "gzip")
        elif encoding == "deflate":
            wbits = zlib.MAX_WBITS if _looks_like_zlib(body) else -zlib.MAX_WBITS
            body = _inflate(body, wbits, limit, "deflate")
        elif encoding == "br":
            body = _unbrotli(body, limit)
        else:
            raise IngestError(415, f"Unsupported Content-Encoding {encoding!r}.")
    if len(body) > limit:
        raise too_large("The body", limit)
    return body


# --- auth ---------------------------------------------------------------------------------------


def key_from_auth_header(value: str) -> str | None:
    """`Sentry sentry_key=abc, sentry_version=7, sentry_client=...` → "abc"."""
    value = value.strip()
    if value[:7].lower() == "sentry ":
        value = value[7:]
    for part in value.split(","):
        name, _, key = part.strip().partition("=")
        if name.strip() == "sentry_key" and key.strip():
            return key.strip()
    return None


@dataclass(frozen=True)
class DsnKey:
    public_key: str
    project_id: str


def key_from_dsn(dsn: Any) -> DsnKey | None:
    if not isinstance(dsn, str) or not dsn:
        return None
    try:
        parts = urlsplit(dsn)
    except ValueError:
        return None
    if not parts.username:
        return None
    return DsnKey(parts.username, parts.path.rstrip("/").rsplit("/", 1)[-1])


# --- envelopes ----------------------------------------------------------------------------------


@dataclass
class EnvelopeItem:
    type: str
    headers: dict
    payload: bytes


@dataclass
class Envelope:
    headers: dict
    items: list[EnvelopeItem] = field(default_factory=list)


def _line(data: bytes, pos: int) -> tuple[bytes, int]:
    end = data.find(b"\n", pos)
    if end == -1:
        return data[pos:], len(data)
    return data[pos:end], end + 1


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # Python reads NaN / Infinity; PostgreSQL refuses them


def _json_object(raw: bytes, what: str) -> dict:
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise IngestError(400, f"The {what} is not valid JSON ({exc}).") from exc
    if not isinstance(value, dict):
        raise IngestError(400, f"The {what} must be a JSON object.")
    return value


def parse_envelope(data: bytes) -> Envelope:
    """Parse a Sentry envelope: a JSON header line, then items (JSON header line + payload).

    An item with a `length` header carries exactly that many payload bytes followed by a newline
    or the end of the envelope; without one its payload runs to the next newline.
    """
    header_line, pos = _line(data, 0)
    envelope = Envelope(_json_object(header_line, "envelope header"))
    number = 0
    while pos < len(data):
        line, pos = _line(data, pos)
        if not line.strip():
            continue
        number += 1
        headers = _json_object(line, f"header of item {number}")
        item_type = headers.get("type")
        if not isinstance(item_type, str) or not item_type:
            raise IngestError(400, f"Item {number} has no type.")
        length = headers.get("length")
        if length is None:
            payload, pos = _line(data, pos)
        else:
            if not isinstance(length, int) or isinstance(length, bool) or length < 0:
                raise IngestError(400, f"Item {number} has an invalid length {length!r}.")
            end = pos + length
            if end > len(data):
                raise IngestError(
                    400, f"Item {number} claims {length} bytes but the envelope ends before that."
                )
            payload = data[pos:end]
            pos = end
            if pos < len(data):
                if data[pos : pos + 1] != b"\n":
                    raise IngestError(400, f"Item {number}'s length does not match its payload.")
                pos += 1
        envelope.items.append(EnvelopeItem(item_type, headers, payload))
    return envelope


# --- events -------------------------------------------------------------------------------------

MAX_FUTURE_SKEW = timedelta(minutes=1)
MAX_EVENT_AGE = timedelta(days=30)
# JSON escapes PostgreSQL's jsonb refuses: NUL and unpaired surrogates.
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(0000|d[89a-f][0-9a-f]{2})", re.IGNORECASE)


@dataclass
class EventData:
    event_id: uuid.UUID
    timestamp: datetime
    level: str
    release: str
    environment: str
    payload: dict
    # The payload as received, when it can be stored as it is: no re-serialising on the hot path.
    payload_json: str | None = None

    def stored_json(self) -> str:
        return self.payload_json or json.dumps(self.payload, allow_nan=False)


def parse_event_id(value: Any, default: uuid.UUID | None = None) -> uuid.UUID:
    if value in (None, ""):
        return default or uuid.uuid4()
    if not isinstance(value, str):
        raise IngestError(400, "event_id must be a string of 32 hex digits.")
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise IngestError(400, f"event_id {value[:40]!r} is not 32 hex digits.") from exc


def parse_timestamp(value: Any, received_at: datetime) -> datetime:
    """Sentry sends a Unix epoch number or an RFC 3339 string; the result is clamped to sane."""
    when = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            when = datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError):
            when = None
    elif isinstance(value, str) and value:
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            when = None
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    if when is None:
        return received_at
    return min(max(when, received_at - MAX_EVENT_AGE), received_at + MAX_FUTURE_SKEW)


def scrub_for_storage(value: Any) -> Any:
    """Drop what PostgreSQL's jsonb refuses: NUL characters and unpaired surrogates."""
    if isinstance(value, str):
        return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [scrub_for_storage(v) for v in value]
    if isinstance(value, dict):
        return {scrub_for_storage(k): scrub_for_storage(v) for k, v in value.items()}
    return value


def _short_string(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def event_from_json(raw: bytes, received_at: datetime, default_id: Any = None) -> EventData:
    payload = _json_object(raw, "event")
    as_received = raw.decode("utf-8")
    if _UNSTORABLE_ESCAPE.search(raw):
        payload, as_received = scrub_for_storage(payload), None
    event_id = parse_event_id(payload.get("event_id") or default_id)
    if payload.get("event_id") != event_id.hex:
        payload["event_id"], as_received = event_id.hex, None
    return EventData(
        event_id=event_id,
        timestamp=parse_timestamp(payload.get("timestamp"), received_at),
        level=_short_string(payload.get("level"), 20) or "error",
        release=_short_string(payload.get("release"), 200),
        environment=_short_string(payload.get("environment"), 64),
        payload=payload,
        payload_json=as_received,
    )


def decode_store_body(data: bytes) -> bytes:
    """The legacy store endpoint also accepted base64 of zlib data (old SDKs)."""
    stripped = data.lstrip()
    if stripped[:1] == b"{":
        return data
    try:
        decoded = base64.b64decode(stripped, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise IngestError(400, "The event is neither JSON nor base64-encoded data.") from exc
    if _looks_like_zlib(decoded):
        return _inflate(decoded, zlib.MAX_WBITS, max_decompressed_bytes(), "zlib")
    return decoded


# --- Sentry Crons check-ins ---------------------------------------------------------------------

CHECKIN_STATUSES = ("in_progress", "ok", "error")


@dataclass
class CheckIn:
    check_in_id: uuid.UUID | None
    monitor_slug: str
    status: str  # "in_progress" | "ok" | "error"
    duration: float | None
    environment: str
    monitor_config: dict


def checkin_from_json(raw: bytes) -> CheckIn:
    payload = _json_object(raw, "check-in")
    slug = payload.get("monitor_slug")
    if not isinstance(slug, str) or not slug.strip():
        raise IngestError(400, "A check-in needs a monitor_slug.")
    status = payload.get("status")
    if status not in CHECKIN_STATUSES:
        raise IngestError(
            400, f"Check-in status {status!r} is not one of {', '.join(CHECKIN_STATUSES)}."
        )
    raw_id = payload.get("check_in_id")
    check_in_id = parse_event_id(raw_id) if raw_id else None
    duration = payload.get("duration")
    if not isinstance(duration, int | float) or isinstance(duration, bool) or duration < 0:
        duration = None
    config = payload.get("monitor_config")
    return CheckIn(
        check_in_id=check_in_id,
        monitor_slug=slug.strip()[:100],
        status=status,
        duration=float(duration) if duration is not None else None,
        environment=_short_string(payload.get("environment"), 64),
        monitor_config=config if isinstance(config, dict) else {},
    )
