"""Pieces the admin classes share: image previews, label and image form fields, and the
bridge between the admin's save hooks and the domain functions in `manifests.services`."""

from functools import cached_property
from typing import Any
from urllib.parse import quote as url_quote

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import quote as admin_quote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.paginator import InvalidPage
from django.db.models import Model
from django.db.models.fields.files import FieldFile
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import RFC3986_SUBDELIMS
from django.utils.text import smart_split
from django.utils.translation import gettext as _

from manifests import search, services
from manifests.counting import AdminPaginator
from manifests.exceptions import (
    InvalidImage,
    ManifestError,
    UploadTooLarge,
    domain_error_message,
)
from manifests.files import removed_on_failure
from manifests.images import inspect_image
from manifests.models import Asset
from manifests.search import MAX_SEARCH_TERMS

# Errors a domain function raises on purpose, or that a concurrent change causes (a row
# gone meanwhile); the admin shows them, never a 500.
DOMAIN_ERRORS = (ValidationError, ManifestError, ObjectDoesNotExist)

LIST_PREVIEW_PX = 48
# Rows per page of the changelists whose rows carry a thumbnail (manifests, assets): each
# is an image the browser fetches, and a signed URL and an <img> the page renders. 50, the
# API's page size, rather than Django's 100: at 100,000 manifests a search that fills its
# page took 55 ms at 100 rows, 21 ms where the library of 1,000 had 23 matches.
LIST_PER_PAGE = 50
FORM_PREVIEW_PX = 160


def image_tag(url: str, *, size: int, alt: str = "") -> str:
    """An <img> bounded to `size` pixels either way."""
    return format_html(
        '<img src="{}" alt="{}" class="vidpipe-preview" loading="lazy" '
        'style="max-width:{}px;max-height:{}px;object-fit:contain;vertical-align:middle">',
        url,
        alt,
        size,
        size,
    )


def image_preview(image: FieldFile | None, *, size: int, alt: str = "") -> str:
    """A bounded <img> of a stored image, or a dash when there is none."""
    if not image:
        return "—"
    return image_tag(image.url, size=size, alt=alt)


def asset_preview(asset: Asset | None, *, size: int) -> str:
    """The asset's thumbnail when processing made one, else its reference image."""
    if asset is None:
        return "—"
    return image_preview(asset.thumbnail or asset.reference_image, size=size, alt=asset.name)


class LabelListField(forms.CharField):
    """A list of labels typed as comma-separated text, normalised by the domain's rule."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "Comma-separated; blanks and duplicates are dropped.")
        kwargs.setdefault("widget", forms.TextInput(attrs={"size": 30}))
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value

    def to_python(self, value: Any) -> list[str]:
        text = super().to_python(value) or ""
        try:
            return services.normalize_labels(text.split(","), field="labels")
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None

    def has_changed(self, initial: Any, data: Any) -> bool:
        # Compare lists, not the raw values: Django's default compares the initial `None`
        # of a blank inline row with the `[]` its empty text parses to, calls the row
        # changed, and then requires its name and type, so no page with a blank row saved.
        if self.disabled:
            return False
        try:
            submitted = self.to_python(data)
        except ValidationError:
            return True
        if initial is None:
            return submitted != []
        return submitted != self.to_python(self.prepare_value(initial))


class ReferenceImageField(forms.FileField):
    """An image upload, checked as the API checks it: by its size, then by decoding it."""

    def to_python(self, data: Any) -> Any:
        upload = super().to_python(data)
        if upload is None:
            return None
        limit = settings.VIDPIPE_MAX_UPLOAD_BYTES
        if upload.size is not None and upload.size > limit:
            raise ValidationError(str(UploadTooLarge(upload.size, limit)))
        try:
            inspect_image(upload)
        except InvalidImage as exc:
            raise ValidationError(str(exc)) from None
        upload.seek(0)
        return upload


def adopt(target: Model, saved: Model) -> None:
    """Make the admin's in-memory object stand for the row a domain function saved.

    The admin keeps using the instance it built from the form (inline formsets and the
    change message point at it), while the domain functions return their own instance.
    """
    for field in saved._meta.concrete_fields:
        setattr(target, field.attname, getattr(saved, field.attname))
    target._state.adding = False
    target._state.db = saved._state.db
    target._state.fields_cache.clear()


def save_asset_form(form: forms.ModelForm, *, manifest: Any) -> Asset:
    """Create or update the asset behind a valid form through the domain functions, then
    attach its uploaded image; the form's instance becomes the saved asset."""
    data = form.cleaned_data
    if form.instance._state.adding:
        fields = {f: data[f] for f in Asset.EDITABLE_FIELDS if f in data}
        asset = services.asset_create(manifest=manifest, **fields)
    else:
        changes = {f: data[f] for f in form.changed_data if f in Asset.EDITABLE_FIELDS}
        asset = services.asset_update(asset=form.instance, **changes) if changes else None
    if data.get("image"):
        asset = services.asset_attach_image(
            asset=asset or form.instance, file=data["image"], filename=data["image"].name
        )
    if asset is not None:
        adopt(form.instance, asset)
    return form.instance


class DomainErrorsAsMessages:
    """ModelAdmin mixin: a refusal raised by a domain function while saving or deleting
    (after the form was valid, e.g. a concurrent change) becomes an error message on the
    same page instead of a server error; the admin's transaction has rolled it all back,
    and the files its operations had stored are removed with it."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            with removed_on_failure():
                return super().changeform_view(request, object_id, form_url, extra_context)
        except DOMAIN_ERRORS as exc:
            message = domain_error_message(exc)
            if request.FILES:
                chosen = ", ".join(f"“{upload.name}”" for upload in request.FILES.values())
                message += f" Nothing was saved: choose the files again ({chosen})."
            self.message_user(request, message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except DOMAIN_ERRORS as exc:
            self.message_user(request, domain_error_message(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class FilesToChooseAgain:
    """ModelAdmin mixin: when a page with uploads comes back with errors, say which files
    must be chosen again. Browsers never refill a file input, so every file picked on the
    refused page is gone, the valid ones too; each such input gets a note and the page a
    message listing the rows, instead of silently empty inputs."""

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if request.method == "POST" and request.FILES:
            forms_shown = [context["adminform"].form]
            for inline in context.get("inline_admin_formsets", ()):
                formset = inline.formset
                # A row ticked for deletion needs no file, however refused the page was.
                forms_shown += [f for f in formset.forms if not formset._should_delete_form(f)]
            lost = [note_lost_file(form, request.FILES) for form in forms_shown]
            lost = [where for where in lost if where]
            if lost:
                self.message_user(
                    request,
                    "Nothing was saved, and browsers do not keep chosen files: choose the "
                    f"image again for {', '.join(lost)}.",
                    messages.WARNING,
                )
        return super().render_change_form(request, context, add, change, form_url, obj)


def note_lost_file(form: forms.BaseForm, files) -> str | None:
    """Mark the file inputs of `form` whose valid upload the refused page drops; where
    they are, for the page's message (None when nothing is lost)."""
    lost = None
    for name, field in form.fields.items():
        key = form.add_prefix(name)
        if not isinstance(field, forms.FileField) or key not in files or name in form.errors:
            continue
        form.add_error(name, f"Choose “{files[key].name}” again: the page was not saved.")
        lost = f"“{files[key].name}”"
    if lost is None or form.prefix is None:
        return lost
    number = int(form.prefix.rsplit("-", 1)[1]) + 1
    label = form.data.get(form.add_prefix("name"), "").strip()
    return f"row {number} ({label}): {lost}" if label else f"row {number}: {lost}"


class BoundedSearch:
    """ModelAdmin mixin: the search box means what the API's `?search=` means
    (`manifests.search`), with at most MAX_SEARCH_TERMS words: the rest are dropped, with a
    warning (each word adds an OR of LIKEs; about a thousand exceed SQLite's expression
    depth)."""

    def get_search_results(self, request, queryset, search_term):
        words = search.search_words(search_term)
        if len(words) > MAX_SEARCH_TERMS:
            self.message_user(
                request,
                f"Searched for the first {MAX_SEARCH_TERMS} of {len(words)} words only.",
                messages.WARNING,
            )
        if search.searches(queryset.model):
            return search.search(queryset, words[:MAX_SEARCH_TERMS]), False
        # Django's own search over `search_fields` (projects, webhooks), bounded the same way.
        kept = list(smart_split(search_term))[:MAX_SEARCH_TERMS]
        return super().get_search_results(request, queryset, " ".join(kept))


class BoundedChangeList(ChangeList):
    """Django's ChangeList for a paginator whose count may be an estimate (AdminPaginator):
    with an estimate, "Show all" is neither offered nor honoured, since the estimate may be
    far below the rows (a `?all=` URL gets the page it names instead of every row)."""

    def get_results(self, request):
        super().get_results(request)
        if getattr(self.paginator, "count_is_estimate", False):
            self.can_show_all = False
            if self.show_all:
                # Django took the whole queryset (not read yet) for an estimate within
                # list_max_show_all: the page, as without `all`.
                self.show_all = False
                try:
                    self.result_list = self.paginator.page(self.page_num).object_list
                except InvalidPage as error:
                    raise IncorrectLookupParameters from error


class BoundedCounts:
    """ModelAdmin mixin for the changelists of big tables: counts bounded by
    AdminPaginator (manifests.counting), shown by BoundedChangeList."""

    paginator = AdminPaginator
    # The total would count every row again, unfiltered: one more query on a big table.
    show_full_result_count = False

    def get_changelist(self, request, **kwargs):
        return BoundedChangeList


class ChangeListRowLinks(BoundedChangeList):
    """Django's ChangeList, with each row's link built once per page: a page of 100 rows
    with two link columns otherwise resolves the change URL 200 times, and, while a search
    or a filter is on, resolves the link again 200 times to add it (`add_preserved_filters`,
    half of a filtered page's time). The link is byte for byte Django's: built by Django's
    functions for a stand-in key, which is then replaced by the row's key, quoted as the
    admin quotes it and then as `reverse()` quotes an argument.

    Django adds the filters in `items_for_result` from `preserved_filters`, which nothing
    else reads from the changelist (the templates take it from the view's context): this
    class keeps them as `row_filters` and leaves `preserved_filters` empty, so that Django
    only re-reads the query string the link already carries.
    """

    PLACEHOLDER = "vidpipe-row-key"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.row_filters, self.preserved_filters = self.preserved_filters, ""

    @cached_property
    def _row_url_parts(self) -> tuple[str, str]:
        url = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
            args=(self.PLACEHOLDER,),
            current_app=self.model_admin.admin_site.name,
        )
        url = add_preserved_filters({"preserved_filters": self.row_filters, "opts": self.opts}, url)
        prefix, _, suffix = url.partition(self.PLACEHOLDER)
        return prefix, suffix

    def url_for_result(self, result):
        prefix, suffix = self._row_url_parts
        key = str(admin_quote(getattr(result, self.pk_attname)))
        return f"{prefix}{url_quote(key, safe=RFC3986_SUBDELIMS + '/~:@')}{suffix}"


class FastChangeListRows(BoundedCounts):
    """ModelAdmin mixin for the changelists that show a big table (manifests, assets): the
    same HTML as Django's, rendered for less per row.

    - The action checkbox is written as `format_html`, not rendered through the forms
      template engine (`CheckboxInput.render`), which cost about a quarter of a 100-row
      page; tests/test_admin_rows.py compares the two.
    - Row links come from ChangeListRowLinks.
    """

    def action_checkbox(self, obj):
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            str(obj.pk),
            format_html(_("Select this object for an action - {}"), str(obj)),
        )

    def get_changelist(self, request, **kwargs):
        return ChangeListRowLinks
