"""The shape of the API. Rules live in `manifests.services`; these only check shapes."""

from collections.abc import Callable, Mapping
from functools import lru_cache

from django.utils.encoding import iri_to_uri
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from manifests.fast_reads import FastReads
from manifests.models import SORT_ORDER_MAX, SORT_ORDER_MIN, Asset, Manifest, Project
from manifests.services import MAX_LABEL_LENGTH, MAX_LABELS

# A file URL as the API hands it out (manifests.media_urls).
FILE_URL_SCHEMA = {
    "type": "string",
    "format": "uri",
    "nullable": True,
    "readOnly": True,
    "description": "Signed: anyone holding it may read the file, without credentials, "
    "until it expires (VIDPIPE_MEDIA_URL_SECONDS, an hour by default, at least); then it "
    "answers 403: read the resource again for a fresh one. Plain and lasting when the "
    "server's media is public.",
}


@extend_schema_field(FILE_URL_SCHEMA)
class FileURLField(serializers.Field):
    """The absolute URL of a stored file, or null when there is none."""

    # Its fast representation shows a stored name (a list page's row, manifests.fast_reads)
    # as its file.
    reads_stored_names = True

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value):
        if not value:
            return None
        request = self.context.get("request")
        return request.build_absolute_uri(value.url) if request else value.url

    def fast_representation(self, context: dict) -> Callable:
        """`to_representation` for the rows of one answer (manifests.fast_reads): the
        request's scheme and host are read once, not once per URL."""
        absolute = absolute_url_builder(context.get("request"))
        storage = self._storage()

        def represent(value):
            if not value:
                return None
            # A stored name is what its FieldFile's `url` asks the storage about.
            return absolute(storage.url(value) if type(value) is str else value.url)

        return represent

    def _storage(self):
        """The storage of the model field this field shows (the default storage when the
        field is not bound to a model serializer)."""
        from django.core.files.storage import default_storage

        model = getattr(getattr(self.parent, "Meta", None), "model", None)
        if model is None:
            return default_storage
        return model._meta.get_field(self.source).storage


# iri_to_uri is pure; an answer's file URLs repeat from one answer to the next within a URL
# window (manifests.media_urls), so each is quoted once per window and process.
_quoted = lru_cache(maxsize=8192)(iri_to_uri)


def absolute_url_builder(request) -> Callable[[str], str]:
    """`request.build_absolute_uri` for many URLs: a path from the root is the request's
    (quoted) scheme and host followed by the quoted path, which is what Django builds."""
    if request is None:
        return lambda url: url
    origin = request.build_absolute_uri("/")[:-1]

    def absolute(url: str) -> str:
        if url.startswith("/") and not url.startswith("//") and "/." not in url:
            return origin + _quoted(url)
        return request.build_absolute_uri(url)

    return absolute


# Items a label list may carry before de-duplication; the domain then allows MAX_LABELS
# distinct ones. This bound only keeps a hostile list from costing much to validate.
MAX_RAW_LABELS = MAX_LABELS * 10


def label_list_field(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=MAX_LABEL_LENGTH, allow_blank=True),
        max_length=MAX_RAW_LABELS,
        error_messages={
            "max_length": f"At most {MAX_RAW_LABELS} items may be sent; "
            f"{MAX_LABELS} distinct ones are kept."
        },
        required=False,
        help_text=f"{help_text} Stripped, de-duplicated, order kept; at most {MAX_LABELS} "
        "distinct items.",
    )


class UUIDStringField(serializers.UUIDField):
    """A UUID as JSON sends it: a string. (DRF's field also reads integers, so `true` or `7`
    would name a UUID nobody meant.)"""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class StrictSerializerMixin:
    """What every request body shares.

    - A field the serializer does not know is refused with 400 naming it, so a typo (or a
      field by another name, e.g. `manifest` for `manifest_id`) is never silently dropped.
      Read-only fields are known: a body read from the API can be sent back as it is.
    - A bad choice names the values that are allowed.
    """

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            if isinstance(field, serializers.ChoiceField) and not field.read_only:
                allowed = ", ".join(str(choice) for choice in field.choices)
                field.error_messages["invalid_choice"] = (
                    f'"{{input}}" is not a valid choice; allowed: {allowed}.'
                )
        return fields

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                writable = ", ".join(n for n, f in self.fields.items() if not f.read_only)
                message = f"Unknown field; the writable fields are: {writable}."
                raise serializers.ValidationError({name: [message] for name in unknown})
        return super().to_internal_value(data)


class AssetSerializer(FastReads, StrictSerializerMixin, serializers.ModelSerializer):
    manifest_id = serializers.UUIDField(read_only=True)
    user_tags = label_list_field("Free labels.")
    reference_image_url = FileURLField(source="reference_image")
    thumbnail_url = FileURLField(source="thumbnail")

    class Meta:
        model = Asset
        fields = [
            "id",
            "manifest_id",
            "asset_type",
            "name",
            "manifest_tag",
            "user_tags",
            "reference_image_url",
            "thumbnail_url",
            "image_format",
            "image_width",
            "image_height",
            "image_sha256",
            "description",
            "source",
            "sort_order",
            "created_at",
            "updated_at",
        ]
        # Writable: Asset.EDITABLE_FIELDS, as in the admin and the services.
        read_only_fields = [f for f in fields if f not in Asset.EDITABLE_FIELDS]
        extra_kwargs = {
            "sort_order": {
                "min_value": SORT_ORDER_MIN,
                "max_value": SORT_ORDER_MAX,
                "required": False,
                "help_text": "Position in the manifest; default: after the last asset.",
            },
            "manifest_tag": {"help_text": "Generated tag such as CHAR_01; never reused."},
        }


class ManifestSerializer(FastReads, StrictSerializerMixin, serializers.ModelSerializer):
    tags = label_list_field("Tags of the manifest.")
    processing_progress = serializers.JSONField(
        required=False, allow_null=True, help_text="A JSON object written by processing."
    )
    thumbnail_url = FileURLField(source="thumbnail")
    contact_sheet_url = FileURLField(source="contact_sheet")
    parent_manifest_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = Manifest
        fields = [
            "id",
            "name",
            "description",
            "category",
            "tags",
            "status",
            "processing_progress",
            "thumbnail_url",
            "contact_sheet_url",
            "asset_count",
            "total_processing_cost",
            "times_used",
            "last_used_at",
            "version",
            "parent_manifest_id",
            "created_at",
            "updated_at",
        ]
        # Writable: Manifest.EDITABLE_FIELDS, as in the admin and the services.
        read_only_fields = [f for f in fields if f not in Manifest.EDITABLE_FIELDS]
        extra_kwargs = {"total_processing_cost": {"min_value": 0}}

    def validate_processing_progress(self, value):
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object or null.")
        return value


class ManifestDetailSerializer(ManifestSerializer):
    assets = AssetSerializer(many=True, read_only=True)

    class Meta(ManifestSerializer.Meta):
        fields = [*ManifestSerializer.Meta.fields, "assets"]


class DuplicateRequestSerializer(StrictSerializerMixin, serializers.Serializer):
    name = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text=(
            'Name of the copy; default: the first free "<original> (copy)", '
            '"<original> (copy 2)", … Also accepted as ?name=.'
        ),
    )


class UploadRequestSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="A JPEG, PNG, WebP or GIF image (checked by decoding it, not by its name)."
    )


class BulkUploadRequestSerializer(StrictSerializerMixin, serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        allow_empty=False,
        help_text="The images (JPEG, PNG, WebP or GIF), one `files` part each, in order; "
        "at most VIDPIPE_BULK_MAX_FILES (default 100) per request.",
    )
    asset_type = serializers.ChoiceField(
        choices=Asset.AssetType.choices, help_text="The type of every asset without its own."
    )
    names = serializers.ListField(
        child=serializers.CharField(allow_blank=True, max_length=200),
        required=False,
        help_text="One `names` field per file, in file order (blank: the default); "
        'default: the file name without extension, cleaned ("hero_front.png": "hero front").',
    )
    types = serializers.ListField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text="One `types` field per file, in file order (blank: `asset_type`).",
    )
    atomic = serializers.BooleanField(
        required=False,
        default=False,
        help_text="true: all or nothing; any refused file creates nothing (400).",
    )


class RefusedFileSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The file's position in `files`, from 0.")
    file = serializers.CharField(help_text="The file name as sent.")
    reason = serializers.CharField()


class BulkUploadResultSerializer(serializers.Serializer):
    created = AssetSerializer(many=True, help_text="The new assets, in file order.")
    refused = RefusedFileSerializer(many=True, help_text="The files that became no asset.")


class ProjectSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    manifest_id = serializers.PrimaryKeyRelatedField(
        source="manifest",
        queryset=Manifest.objects.all(),
        pk_field=UUIDStringField(),
        allow_null=True,
        required=False,
        help_text="Linking a manifest pins its current version and counts the use.",
        error_messages={
            "does_not_exist": "No live manifest has the id {pk_value}: it is unknown or deleted.",
        },
    )

    class Meta:
        model = Project
        fields = ["id", "name", "manifest_id", "manifest_version", "created_at"]
        read_only_fields = ["manifest_version", "created_at"]


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class PreconditionFailedSerializer(ErrorSerializer):
    etag = serializers.CharField(help_text="The resource's current ETag (also the ETag header).")


class ConflictProjectSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class ConflictSerializer(ErrorSerializer):
    projects = ConflictProjectSerializer(many=True)
