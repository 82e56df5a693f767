"""The zygote's entry point, run by the launcher inside the sandbox."""

import json
import sys

from . import JOB_FILE, RESULTS_FILE
from .loop import Results, command_repair


def main():
    with open(JOB_FILE, encoding="utf-8") as f:
        job = json.load(f)
    sys.dont_write_bytecode = True
    results = Results(RESULTS_FILE)
    if job.get("runner") == "command":
        command_repair(job, results)
        results.write(kind="end")
        return 0
    # Plugin autoload is off for every sandboxed run (engine.sandbox's environment).
    import pytest

    from .plugin import Zygote  # imports pytest's internals: only now

    plugin = Zygote(job, results)
    args = [*job["pytest_args"], "-q", "-p", "no:cacheprovider"]
    code = pytest.main(args, plugins=[plugin])
    results.write(kind="end", exit_code=int(code))
    return 0


if __name__ == "__main__":
    sys.exit(main())
