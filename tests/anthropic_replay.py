"""Replay recorded Anthropic Messages API responses through the real `anthropic` SDK.

Only the HTTP transport is replaced: the SDK builds and sends real requests (which are kept, so
tests can read the prompt) and parses the recorded responses exactly as it would the API's.
A recording (`tests/recordings/NAME.json`) is `{"status", "headers", "body"}`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import anthropic
import httpx2

RECORDINGS = Path(__file__).parent / "recordings"


@dataclass
class SentRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: dict

    @property
    def messages(self) -> list[dict]:
        return self.body["messages"]

    @property
    def prompt(self) -> str:
        """The text of the first user message."""
        content = self.messages[0]["content"]
        return content if isinstance(content, str) else "".join(b.get("text", "") for b in content)


def load_recording(name: str) -> dict:
    return json.loads((RECORDINGS / f"{name}.json").read_text())


class ReplayTransport(httpx2.BaseTransport):
    """Answers each request with the next recording (or raises the next exception given)."""

    def __init__(self, *answers: str | Exception):
        self.answers = list(answers)
        self.requests: list[SentRequest] = []

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        body = request.read()
        self.requests.append(
            SentRequest(
                method=request.method,
                url=str(request.url),
                headers=dict(request.headers),
                body=json.loads(body) if body else {},
            )
        )
        if not self.answers:
            raise AssertionError(f"unexpected request #{len(self.requests)}: no recording left")
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        recording = load_recording(answer)
        return httpx2.Response(
            recording["status"],
            headers=recording.get("headers", {}),
            content=json.dumps(recording["body"]).encode(),
            request=request,
        )

    @property
    def exhausted(self) -> bool:
        return not self.answers


def replay_client(
    *answers: str | Exception, max_retries: int = 0
) -> tuple[anthropic.Anthropic, ReplayTransport]:
    """A real SDK client whose HTTP goes to a ReplayTransport (no SDK retries unless asked)."""
    transport = ReplayTransport(*answers)
    client = anthropic.Anthropic(
        api_key="test-key",
        base_url="https://api.anthropic.com",
        http_client=httpx2.Client(transport=transport),
        max_retries=max_retries,
    )
    return client, transport
