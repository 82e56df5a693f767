import io
import os
import tarfile
import zipfile

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from proposals import files, services
from proposals.models import ProjectFile, ProjectFileVersion, Proposal, ProposalChange

from .helpers import CALC, calculator_files, load_calculator


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_every_change_keeps_the_previous_content(project):
    load_calculator(project)
    files.write_files(project, {"calc.py": CALC + "\n# v2\n"}, source="edit")
    files.write_files(project, {"calc.py": None}, source="delete")
    versions = ProjectFileVersion.objects.filter(file__path="calc.py").order_by("version")
    assert [(v.version, v.deleted) for v in versions] == [(1, False), (2, False), (3, True)]
    assert versions[0].content == CALC
    assert "calc.py" not in files.current_files(project)


def test_import_of_a_directory_skips_links_binaries_and_caches(project, tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("X = 1\n")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\x00\x00")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\x00")
    os.symlink("/etc/passwd", tmp_path / "passwd")
    found, skipped = files.read_directory(tmp_path)
    assert found == {"pkg/mod.py": "X = 1\n"}
    assert any(s.startswith("logo.png") for s in skipped)
    assert any(s.startswith("passwd: links") for s in skipped)


def test_import_project_command_creates_a_project(user, tmp_path, capsys):
    for path, content in calculator_files().items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(content)
    call_command("import_project", str(tmp_path), "--name", "Calc", "--owner", user.username)
    assert "Imported 2 files" in capsys.readouterr().out
    assert ProjectFile.objects.filter(project__name="Calc").count() == 2


def test_import_project_command_refuses_a_missing_path(user):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("import_project", "/no/such/dir", "--owner", user.username)


def test_archive_import_strips_the_common_folder(project):
    data = _zip({"calc-main/calc.py": b"X = 1\n", "calc-main/tests/test_x.py": b"Y = 2\n"})
    assert files.read_archive(data) == {"calc.py": "X = 1\n", "tests/test_x.py": "Y = 2\n"}


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"../evil.py": b"x"}, "evil.py"),
        ({"latin1.py": "café".encode("latin-1")}, "not UTF-8"),
        ({"big.py": b"x" * (600 * 1024)}, "limit"),
    ],
)
def test_a_bad_archive_is_refused_whole(project, members, message):
    data = _zip({"good.py": b"ok = 1\n", **members})
    with pytest.raises(files.BadFiles, match=message):
        files.read_archive(data)


def test_a_tar_with_a_symlink_is_refused(project):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        link = tarfile.TarInfo("secrets")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/shadow"
        archive.addfile(link)
    with pytest.raises(files.BadFiles, match="links"):
        files.read_archive(buffer.getvalue())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (services.ChangeSpec("/etc/passwd", "create", "x"), "passwd"),
        (services.ChangeSpec("../outside.py", "create", "x"), "outside.py"),
        (services.ChangeSpec("big.py", "create", "x" * (600 * 1024)), "limit"),
        (services.ChangeSpec("calc.py", "create", "x"), "already exists"),
        (services.ChangeSpec("nope.py", "modify", "x"), "no such file"),
        (services.ChangeSpec("calc.py", "rename", "x"), "unknown action"),
    ],
)
def test_a_bad_change_refuses_the_whole_proposal(project, change, message):
    load_calculator(project)
    good = services.ChangeSpec("tests/test_more.py", "create", "def test_x():\n    pass\n")
    with pytest.raises(services.BadProposal, match=message):
        services.create_proposal(project, "Bad", [good, change])
    assert not Proposal.objects.exists()
    assert not ProposalChange.objects.exists()


def test_proposal_files_are_the_project_plus_the_changes(project):
    load_calculator(project)
    proposal = services.create_proposal(
        project,
        "Replace tests",
        [
            services.ChangeSpec("tests/test_calc.py", "delete"),
            services.ChangeSpec("tests/test_new.py", "create", "def test_new():\n    pass\n"),
        ],
    )
    assert set(services.proposal_files(proposal)) == {"calc.py", "tests/test_new.py"}


def test_approving_applies_the_changes_as_new_versions(project, user):
    load_calculator(project)
    proposal = services.create_proposal(
        project, "Edit", [services.ChangeSpec("calc.py", "modify", CALC + "\n# edited\n")]
    )
    Proposal.objects.filter(pk=proposal.pk).update(status="tests_passed")
    services.approve(proposal.pk, user, "looks right")
    proposal.refresh_from_db()
    assert proposal.status == "applied"
    calc = ProjectFile.objects.get(project=project, path="calc.py")
    assert calc.version == 2 and calc.content.endswith("# edited\n")
    assert proposal.reviews.get().reviewer == user


def test_a_proposal_whose_tests_failed_cannot_be_approved(project, user):
    load_calculator(project)
    proposal = services.create_proposal(
        project, "Edit", [services.ChangeSpec("calc.py", "modify", "x")]
    )
    Proposal.objects.filter(pk=proposal.pk).update(status="tests_failed")
    with pytest.raises(services.WrongState, match="tests_failed"):
        services.approve(proposal.pk, user)
    assert ProjectFile.objects.get(path="calc.py").content == CALC


def test_a_viewer_cannot_approve(project, other_user):
    from selfheal.services import ProjectNotFound, add_member

    load_calculator(project)
    proposal = services.create_proposal(
        project, "Edit", [services.ChangeSpec("calc.py", "modify", "x")]
    )
    Proposal.objects.filter(pk=proposal.pk).update(status="tests_passed")
    with pytest.raises(ProjectNotFound):
        services.approve(proposal.pk, other_user)
    add_member(project, other_user, "viewer")
    from selfheal.services import AccessDenied

    with pytest.raises(AccessDenied, match="reviewer"):
        services.approve(proposal.pk, other_user)
