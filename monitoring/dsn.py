from urllib.parse import urlsplit

from django.conf import settings

from selfheal.models import Project


def dsn_for(project: Project) -> str:
    """`http(s)://<public_key>@<host>/<project_id>`, what the Sentry SDK is configured with."""
    base = urlsplit(settings.SELFHEAL_PUBLIC_URL)
    path = base.path.rstrip("/")
    return f"{base.scheme}://{project.public_key}@{base.netloc}{path}/{project.pk}"
