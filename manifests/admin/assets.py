"""Assets in the admin: the inline on the manifest page and their own list."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction

from manifests import search, services
from manifests.admin.common import (
    FORM_PREVIEW_PX,
    LIST_PREVIEW_PX,
    BoundedSearch,
    DomainErrorsAsMessages,
    FilesToChooseAgain,
    LabelListField,
    ReferenceImageField,
    asset_preview,
    save_asset_form,
)
from manifests.counting import AdminPaginator
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


class AssetInline(admin.TabularInline):
    """The manifest's assets, edited in place; saved by `ManifestAdmin.save_formset`."""

    model = Asset
    form = AssetForm
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
class AssetAdmin(DomainErrorsAsMessages, FilesToChooseAgain, BoundedSearch, admin.ModelAdmin):
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
    # A million assets: no second count of the whole table, and a bounded first one.
    show_full_result_count = False
    paginator = AdminPaginator
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
