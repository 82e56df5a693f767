"""`python manage.py repair DIR`: find a small fix that makes a directory's tests pass.

Works without a database. Never changes DIR unless --write. Exit codes: 0 fixed, 1 not fixed,
2 bad input (no tests, tests already passing, code that does not parse, a test command that does
not exist, a budget of 0).
"""

import json
import sys

from django.core.management.base import BaseCommand, CommandParser

from selfheal.engine.repair import (
    DEFAULT_TEST_COMMAND,
    RepairInputError,
    RepairResult,
    load_directory,
    repair,
    write_patch,
)

EXIT_CODES = {"fixed": 0, "not_fixed": 1, "already_passing": 2, "error": 2}


class Command(BaseCommand):
    help = "Search for a small edit that makes DIR's tests pass, validated in the sandbox."
    requires_system_checks: list[str] = []  # no database, no app checks: any directory will do
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", metavar="DIR")
        parser.add_argument("--test-command", default=DEFAULT_TEST_COMMAND)
        parser.add_argument("--budget-seconds", type=float, default=60.0)
        parser.add_argument("--max-candidates", type=int, default=2000)
        parser.add_argument("--write", action="store_true", help="apply the fix to DIR")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument(
            "--allow-unsafe",
            action="store_true",
            help="run without isolation when no sandbox works here (resource limits only)",
        )

    def handle(self, *args, **options) -> None:
        result = self.repair(options)
        written: list[str] = []
        if options["write"] and result.fixed:
            try:
                written = write_patch(options["directory"], result)
            except RepairInputError as exc:
                result.status, result.message = "error", str(exc)
        if options["json"]:
            self.stdout.write(json.dumps({**result.to_dict(), "written": written}, indent=2))
        else:
            self.stdout.write(self.summary(result, written, options["directory"]))
        sys.exit(EXIT_CODES[result.status])

    def repair(self, options: dict) -> RepairResult:
        try:
            files = load_directory(options["directory"])
        except RepairInputError as exc:
            return RepairResult(status="error", message=str(exc))
        return repair(
            files,
            options["test_command"],
            budget_seconds=options["budget_seconds"],
            max_candidates=options["max_candidates"],
            allow_unsafe=options["allow_unsafe"],
        )

    def summary(self, result: RepairResult, written: list[str], directory: str) -> str:
        lines = [f"{result.status}: {result.message}"]
        if result.failing_tests:
            lines.append(f"failing tests: {', '.join(result.failing_tests[:5])}")
        if result.suspicious_lines:
            top = ", ".join(f"{p}:{n} ({s:.2f})" for p, n, s in result.suspicious_lines[:3])
            lines.append(f"most suspicious lines: {top}")
        if result.candidates_tried:
            rate = result.candidates_tried / max(result.validation_seconds, 1e-6)
            lines.append(
                f"{result.candidates_tried} candidates tried ({rate:.0f}/s), "
                f"{len(result.plausible_patches)} plausible, {result.seconds:.1f} s, "
                f"isolation {result.isolation}"
            )
        if result.diff:
            lines += ["", result.diff.rstrip()]
        for other in result.plausible_patches[1:5]:
            lines.append(f"also plausible: {other.description} ({other.operator})")
        if written:
            lines.append(f"written to {directory}: {', '.join(written)}")
        elif result.fixed:
            lines.append(f"{directory} is unchanged; run again with --write to apply the fix")
        return "\n".join(lines)
