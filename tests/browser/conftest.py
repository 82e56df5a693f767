import pytest


@pytest.fixture(scope="session", autouse=True)
def allow_django_calls_beside_playwrights_loop():
    """Playwright's sync API keeps an event loop in the main thread from its first use to the end
    of the session; Django refuses synchronous ORM calls there unless told they are safe (they
    are: nothing else runs on that loop)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield
