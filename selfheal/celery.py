import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "selfheal.settings")

app = Celery("selfheal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
