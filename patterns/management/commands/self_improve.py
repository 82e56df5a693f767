"""`python manage.py self_improve`: run the self-improvement cycle now and print its report."""

import json

from django.core.management.base import BaseCommand, CommandParser

from patterns.services import run_self_improvement


class Command(BaseCommand):
    help = "Calibrate confidence, optimise auto-apply thresholds, grade patterns; store the report."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the whole report as JSON")

    def handle(self, *args, **options) -> None:
        run = run_self_improvement(trigger="command")
        if options["json"]:
            self.stdout.write(json.dumps(run.report, indent=2, default=str))
        else:
            self.stdout.write(f"Self-improvement run #{run.pk}: {run.summary}")
            for row in run.report["thresholds"]:
                self.stdout.write(
                    f"  {row['project']}: {row['current']:.2f} -> "
                    f"{'—' if row['recommended'] is None else format(row['recommended'], '.2f')} "
                    f"({row['action']}): {row['reason']}"
                )
