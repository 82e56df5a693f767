import pytest
from django.contrib.auth import get_user_model

from selfheal import services

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("alice", "alice@example.com", "pw-alice-123")


@pytest.fixture
def other_user(db):
    return get_user_model().objects.create_user("mallory", "mallory@example.com", "pw-mallory-123")


@pytest.fixture
def project(user):
    return services.create_project(user, "Calculator")


@pytest.fixture
def api_key(user):
    _, raw = services.create_api_key(user, "tests")
    return raw


@pytest.fixture
def api_client(client, api_key):
    """Django's test client sending the API key on every request."""
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {api_key}"
    return client
