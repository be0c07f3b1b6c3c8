"""Assets in the admin: the inline on the manifest page and their own list."""

from django import forms
from django.contrib import admin
from django.core.exceptions import BadRequest, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.functional import cached_property

from manifests import search, services
from manifests.admin.common import (
    FORM_PREVIEW_PX,
    LIST_PER_PAGE,
    LIST_PREVIEW_PX,
    BoundedSearch,
    DomainErrorsAsMessages,
    FastChangeListRows,
    FilesToChooseAgain,
    LabelListField,
    ReferenceImageField,
    asset_preview,
    save_asset_form,
)
from manifests.models import Asset


class AssetForm(forms.ModelForm):
    user_tags = LabelListField(label="User tags", widget=forms.TextInput(attrs={"size": 12}))
    sort_order = forms.IntegerField(
        required=False,
        min_value=-(2**31),
        max_value=2**31 - 1,
        widget=forms.NumberInput(attrs={"style": "width:4em"}),
        help_text="Blank: after the last asset.",
    )
    image = ReferenceImageField(
        required=False,
        label="Upload image",
        help_text="JPEG, PNG, WebP or GIF; replaces the current image.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/*", "style": "width:14em"}),
    )

    class Meta:
        model = Asset
        fields = Asset.EDITABLE_FIELDS
        widgets = {
            "name": forms.TextInput(attrs={"size": 12}),
            "description": forms.Textarea(attrs={"rows": 2, "cols": 16}),
        }

    def clean_sort_order(self):
        value = self.cleaned_data["sort_order"]
        if value is None and not self.instance._state.adding:
            return self.instance.sort_order  # blank keeps an existing asset where it is
        return value


ASSETS_PER_PAGE = 50


class AssetPageRefused(BadRequest):
    """`?assets_page=` is not a page number: the manifest page answers a 400 saying so."""


class AssetPageFormSet(BaseInlineFormSet):
    """The inline's rows: one page of the manifest's assets in display order (page
    `page_number`, `per_page` rows), so that a 500-asset manifest renders and saves the
    rows of one page only. A submitted page saves exactly the rows it was rendered with:
    its queryset is then the assets whose ids the page sent back (of this manifest only),
    whatever was added or removed since it was rendered."""

    page_number = 1  # set per request by AssetInline.get_formset
    per_page = ASSETS_PER_PAGE
    query = None  # the request's query parameters, for the page links

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A total order (AssetQuerySet.ordered ends with id): pages never share a row.
        self.all_assets = self.queryset.ordered()
        # Rendering: a slice of ids (a subquery); saving: the rows the page sent back.
        shown = self.submitted_ids() if self.is_bound else self.page.object_list
        self.queryset = self.all_assets.filter(pk__in=shown)

    def submitted_ids(self) -> list:
        """The ids of the rows the page was rendered with (its initial rows)."""
        to_python = self._get_to_python(self.model._meta.pk)
        ids = []
        for index in range(self.initial_form_count()):
            try:
                ids.append(to_python(self.data.get(f"{self.add_prefix(index)}-id")))
            except ValidationError:
                continue  # the row's own id field reports it
        return [pk for pk in ids if pk is not None]

    @cached_property
    def paginator(self) -> Paginator:
        return Paginator(self.all_assets.values_list("pk", flat=True), self.per_page)

    @cached_property
    def page(self):
        """The page asked for; past the last one (assets removed since), the last one."""
        return self.paginator.page(min(self.page_number, self.paginator.num_pages))

    def page_url(self, number: int) -> str:
        query = self.query.copy()
        query[AssetInline.page_parameter] = str(number)
        return f"?{query.urlencode()}"

    @cached_property
    def page_nav(self) -> dict | None:
        """What the inline's page links show; None when every asset fits on one page."""
        if self.instance.pk is None or self.paginator.num_pages <= 1:
            return None
        page = self.page
        links = [
            {"number": number, "url": self.page_url(number), "current": number == page.number}
            if number != Paginator.ELLIPSIS
            else {"ellipsis": number}
            for number in self.paginator.get_elided_page_range(page.number, on_each_side=2)
        ]
        asset_list = reverse("admin:manifests_asset_changelist")
        return {
            "first": page.start_index(),
            "last": page.end_index(),
            "total": self.paginator.count,
            "links": links,
            "previous": page.has_previous() and self.page_url(page.previous_page_number()),
            "next": page.has_next() and self.page_url(page.next_page_number()),
            "asset_list": None
            if self.instance.is_deleted
            else f"{asset_list}?manifest__id__exact={self.instance.pk}",
        }


class AssetInline(admin.TabularInline):
    """The manifest's assets, edited in place, a page at a time (`?assets_page=`, `per_page`
    rows: see AssetPageFormSet); saved by `ManifestAdmin.save_formset`."""

    model = Asset
    form = AssetForm
    formset = AssetPageFormSet
    template = "admin/manifests/asset/paged_tabular.html"
    per_page = ASSETS_PER_PAGE
    page_parameter = "assets_page"
    fields = [
        "preview",
        "manifest_tag",
        "name",
        "asset_type",
        "description",
        "user_tags",
        "sort_order",
        "image",
    ]
    readonly_fields = ["preview", "manifest_tag"]
    extra = 1
    show_change_link = True

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is not None and obj.is_deleted:  # read-only: nothing to upload
            return [field for field in fields if field != "image"]
        return fields

    def get_queryset(self, request):
        # All assets, so that a deleted manifest still shows (read-only) what it holds.
        return Asset.all_objects.ordered()

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        attributes = {
            "page_number": self.requested_page(request),
            "per_page": self.per_page,
            "query": request.GET,
        }
        return type(formset.__name__, (formset,), attributes)

    def requested_page(self, request) -> int:
        """The page of assets asked for: 1 by default (or blank); not a whole number from 1
        up: a 400."""
        value = request.GET.get(self.page_parameter) or "1"
        try:
            number = int(value)
        except ValueError:
            number = 0
        if number < 1:
            raise AssetPageRefused(
                f"{self.page_parameter} must be a page number from 1 up; got {value!r}."
            )
        return number

    @admin.display(description="Preview")
    def preview(self, asset: Asset) -> str:
        return asset_preview(asset, size=LIST_PREVIEW_PX + 24)


class AssetAdminForm(AssetForm):
    class Meta(AssetForm.Meta):
        fields = ["manifest", *AssetForm.Meta.fields]
        widgets = {
            "name": forms.TextInput(attrs={"size": 40}),
            "description": forms.Textarea(attrs={"rows": 4}),
        }


@admin.register(Asset)
class AssetAdmin(
    FastChangeListRows, DomainErrorsAsMessages, FilesToChooseAgain, BoundedSearch, admin.ModelAdmin
):
    form = AssetAdminForm
    list_display = [
        "list_preview",
        "manifest_tag",
        "name",
        "asset_type",
        "manifest",
        "source",
        "updated_at",
    ]
    list_display_links = ["list_preview", "manifest_tag", "name"]
    list_filter = ["asset_type", "source"]
    list_select_related = ["manifest"]
    search_fields = search.search_fields(Asset)
    search_help_text = "Name, tag, description or user tag."
    list_per_page = LIST_PER_PAGE
    autocomplete_fields = ["manifest"]
    readonly_fields = ["manifest_tag", "large_preview", "image_details", "created_at", "updated_at"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (None, {"fields": ["manifest", "manifest_tag", "name", "asset_type", "source"]}),
            ("Description", {"fields": ["description", "user_tags", "sort_order"]}),
            ("Image", {"fields": ["large_preview", "image", "image_details"]}),
        ]
        if obj is not None:
            fieldsets.append(("Dates", {"fields": ["created_at", "updated_at"]}))
        return fieldsets

    def get_object(self, request, object_id, from_field=None):
        """Any asset, even of a deleted manifest (the list hides those), so that the links
        on a deleted manifest's page open its assets, read-only."""
        field = Asset._meta.pk if from_field is None else Asset._meta.get_field(from_field)
        try:
            value = field.to_python(object_id)
            return Asset.all_objects.select_related("manifest").get(**{field.name: value})
        except (Asset.DoesNotExist, ValidationError, ValueError):
            return None

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.manifest.is_deleted:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.manifest.is_deleted:
            return False
        return super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        # An asset belongs to one manifest for good: its tag is numbered inside it.
        return [*fields, "manifest"] if obj is not None else fields

    @admin.display(description="Preview")
    def list_preview(self, asset: Asset) -> str:
        return asset_preview(asset, size=LIST_PREVIEW_PX)

    @admin.display(description="Preview")
    def large_preview(self, asset: Asset) -> str:
        return asset_preview(asset, size=FORM_PREVIEW_PX * 2)

    @admin.display(description="Stored image")
    def image_details(self, asset: Asset) -> str:
        if not asset.reference_image:
            return "—"
        return (
            f"{asset.image_format} {asset.image_width}x{asset.image_height}, "
            f"sha256 {asset.image_sha256[:12]}…"
        )

    def save_model(self, request, obj, form, change):
        manifest = obj.manifest if change else form.cleaned_data["manifest"]
        save_asset_form(form, manifest=manifest)

    def delete_model(self, request, obj):
        services.asset_delete(asset=obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for asset in queryset:
                services.asset_delete(asset=asset)
