from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from proposals import files
from selfheal import services
from selfheal.models import Project


class Command(BaseCommand):
    help = "Import a directory or a .zip/.tar.gz archive as a project's files (a new version each)."

    def add_arguments(self, parser):
        parser.add_argument("path", help="A directory or an archive of the project.")
        parser.add_argument("--project", help="Slug of an existing project to import into.")
        parser.add_argument("--name", help="Name of a new project (default: the directory's name).")
        parser.add_argument("--owner", help="Username of the new project's admin.")
        parser.add_argument("--test-command", default="python -m pytest -q")

    def handle(self, *args, path: str, project: str | None, name: str | None, owner: str | None,
               test_command: str, **options):  # fmt: skip
        source = Path(path)
        if not source.exists():
            raise CommandError(f"{source} does not exist.")
        try:
            if source.is_dir():
                found, skipped = files.read_directory(source)
            else:
                found, skipped = files.read_archive(source.read_bytes(), source.name), []
        except files.BadFiles as exc:
            raise CommandError(str(exc)) from None
        if not found:
            raise CommandError(f"{source} holds no text files to import.")

        target = self._project(project, name or source.stem, owner, test_command)
        try:
            result = files.import_files(target, found, source=f"import {source.name}")
        except files.BadFiles as exc:
            raise CommandError(str(exc)) from None
        for line in skipped:
            self.stderr.write(f"skipped {line}")
        self.stdout.write(
            f"Imported {result.total} files into {target.slug!r}: {result.created} new, "
            f"{result.updated} changed, {result.unchanged} unchanged, {len(skipped)} skipped."
        )

    def _project(
        self, slug: str | None, name: str, owner: str | None, test_command: str
    ) -> Project:
        if slug:
            try:
                return Project.objects.get(slug=slug)
            except Project.DoesNotExist:
                raise CommandError(f"No project with slug {slug!r}.") from None
        if not owner:
            raise CommandError("A new project needs --owner USERNAME (or give --project SLUG).")
        try:
            user = get_user_model().objects.get(username=owner)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user {owner!r}.") from None
        return services.create_project(user, name, test_command=test_command)
