"""Forms of the proposals UI: the filters of the list and a new proposal with its file changes."""

from django import forms
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from selfheal.models import Project, Role
from selfheal.services import projects_for

from . import files as project_files
from .models import ChangeAction, ProposalStatus
from .services import ChangeSpec


def projects_user_can_propose_to(user: AbstractBaseUser) -> QuerySet[Project]:
    """Proposing changes needs the reviewer role, as in the API."""
    projects = projects_for(user)
    if user.is_superuser:
        return projects
    return projects.filter(
        memberships__user=user, memberships__role__in=[Role.REVIEWER, Role.ADMIN]
    ).distinct()


class ProposalFilterForm(forms.Form):
    project = forms.ModelChoiceField(
        queryset=Project.objects.none(), required=False, empty_label="All projects"
    )
    status = forms.ChoiceField(
        choices=[("", "Any status"), *ProposalStatus.choices], required=False
    )

    def __init__(self, *args, user: AbstractBaseUser, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = projects_for(user)


class ProposalForm(forms.Form):
    project = forms.ModelChoiceField(
        queryset=Project.objects.none(),
        error_messages={
            "invalid_choice": "Unknown project, or one you may not propose changes to.",
        },
    )
    title = forms.CharField(max_length=300, widget=forms.TextInput(attrs={"size": 60}))
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "style": "width:100%"}), required=False
    )

    def __init__(self, *args, user: AbstractBaseUser, **kwargs):
        super().__init__(*args, **kwargs)
        projects = projects_user_can_propose_to(user)
        self.fields["project"].queryset = projects
        if len(projects) == 1:
            self.fields["project"].initial = projects[0]


class ChangeForm(forms.Form):
    """One file: its path, what to do with it, and the new content pasted or uploaded."""

    path = forms.CharField(
        max_length=500,
        required=False,
        widget=forms.TextInput(attrs={"size": 60, "placeholder": "src/module.py"}),
    )
    action = forms.ChoiceField(choices=ChangeAction.choices, initial=ChangeAction.MODIFY)
    content = forms.CharField(
        widget=forms.Textarea(
            attrs={"rows": 12, "spellcheck": "false", "style": "width:100%;font-family:monospace"}
        ),
        required=False,
        strip=False,
    )
    upload = forms.FileField(required=False, help_text="Or upload the file (UTF-8 text).")

    def clean_content(self) -> str:
        # Browsers send textarea lines with CRLF; source files here use LF.
        return self.cleaned_data["content"].replace("\r\n", "\n")

    def clean_upload(self) -> str | None:
        upload = self.cleaned_data.get("upload")
        if not upload:
            return None
        if upload.size > settings.MAX_FILE_BYTES:
            raise forms.ValidationError(
                f"{upload.name}: {upload.size} bytes is over the "
                f"{settings.MAX_FILE_BYTES}-byte limit."
            )
        try:
            return project_files.decode_text(upload.name, upload.read())
        except project_files.BadFiles as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self) -> dict:
        data = super().clean()
        path, content, uploaded = data.get("path", ""), data.get("content", ""), data.get("upload")
        if self.errors:
            return data
        if not path:
            raise forms.ValidationError({"path": "Which file? A change needs a path."})
        if uploaded is not None:
            if content:
                raise forms.ValidationError("Paste the content or upload a file, not both.")
            content = uploaded
        if data["action"] == ChangeAction.DELETE:
            content = ""
        try:
            data["path"] = project_files.check_file(path, content)
        except project_files.BadFiles as exc:
            raise forms.ValidationError({"path": str(exc)}) from None
        data["content"] = content
        return data

    def to_change(self) -> ChangeSpec:
        data = self.cleaned_data
        return ChangeSpec(path=data["path"], action=data["action"], content=data["content"])


class BaseChangeFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        if not self.changes():
            raise forms.ValidationError("A proposal needs at least one file change.")

    def changes(self) -> list[ChangeSpec]:
        return [form.to_change() for form in self.forms if form.has_changed() and form.cleaned_data]


ChangeFormSet = forms.formset_factory(
    ChangeForm, formset=BaseChangeFormSet, extra=1, max_num=50, validate_max=True
)
