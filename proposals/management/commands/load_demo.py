from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from proposals import files, services
from proposals.demo import PROJECT_DIR, demo_proposals
from selfheal import services as core
from selfheal.models import Project, StoppingPoint

DEMO_USER, DEMO_PASSWORD, DEMO_SLUG = "demo", "demo-selfheal", "demo-shop"


class Command(BaseCommand):
    help = "Load the demo: a user, a small shop project, and failing proposals to auto-fix."

    def add_arguments(self, parser):
        parser.add_argument("--no-tests", action="store_true",
                            help="Do not run the proposals' tests in the sandbox now.")  # fmt: skip

    def handle(self, *args, no_tests: bool = False, **options):
        if Project.objects.filter(slug=DEMO_SLUG).exists():
            self.stdout.write(
                f"The demo is already loaded (log in as {DEMO_USER} / {DEMO_PASSWORD})."
            )
            return
        with transaction.atomic():
            user = get_user_model().objects.filter(username=DEMO_USER).first()
            if user is None:
                user = get_user_model().objects.create_superuser(
                    DEMO_USER, "demo@example.com", DEMO_PASSWORD
                )
            project = core.create_project(
                user, "Demo shop", slug=DEMO_SLUG, stopping_point=StoppingPoint.PROPOSE_FIX,
                description="A small shop library with tests; its proposals each carry a bug.",
            )  # fmt: skip
            found, _ = files.read_directory(PROJECT_DIR)
            files.import_files(project, found, source="demo")
            proposals = [
                services.create_proposal(
                    project,
                    p["title"],
                    [services.ChangeSpec(**c) for c in p["changes"]],
                    description=p["description"],
                    created_by=user,
                    source="demo",
                )  # fmt: skip
                for p in demo_proposals()
            ]
        if not no_tests:
            for proposal in proposals:
                run = services.deploy_and_test(proposal.pk)
                self.stdout.write(
                    f"  #{proposal.pk} {proposal.title}: {services.summarise_run(run)}"
                )
        self.stdout.write(f"Demo loaded: log in as {DEMO_USER} / {DEMO_PASSWORD}.")
