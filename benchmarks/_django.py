"""Set up Django for a benchmark script, on a throwaway database of its own."""

import os
import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def benchmark_database(name: str):
    """Django configured against a fresh `test_<name>` database, destroyed afterwards."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "selfheal.settings")
    os.environ["SELFHEAL_TEST_DB"] = f"test_{name}"
    import django

    django.setup()
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield connection
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
