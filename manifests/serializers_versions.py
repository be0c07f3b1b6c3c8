"""The shape of frozen versions in the API: read-only representations of the records that
`manifests.services.versions` writes (plain JSON content, with stored file names made into
absolute URLs), of their diffs, and of a project's upgrade."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from manifests.files import files_storage
from manifests.models import ManifestVersion
from manifests.serializers import FILE_URL_SCHEMA, ErrorSerializer, ProjectSerializer


@extend_schema_field(FILE_URL_SCHEMA)
class StoredNameURLField(serializers.Field):
    """The absolute URL of a stored file named in a frozen record (it serves the frozen
    bytes: files a frozen version names are never removed), or null when there is none."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value):
        if not value:
            return None
        url = files_storage().url(value)
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class FrozenAssetSerializer(serializers.Serializer):
    """An asset as a frozen version keeps it."""

    id = serializers.UUIDField(read_only=True)
    manifest_tag = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    asset_type = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    user_tags = serializers.ListField(child=serializers.CharField(), read_only=True)
    sort_order = serializers.IntegerField(read_only=True)
    source = serializers.CharField(read_only=True)
    reference_image_url = StoredNameURLField(source="reference_image")
    thumbnail_url = StoredNameURLField(source="thumbnail")
    image_sha256 = serializers.CharField(read_only=True)
    image_format = serializers.CharField(read_only=True)
    image_width = serializers.IntegerField(read_only=True, allow_null=True)
    image_height = serializers.IntegerField(read_only=True, allow_null=True)


class ResolvedAssetSerializer(FrozenAssetSerializer):
    """The asset a tag meant in one frozen version (`{**asset, manifest_id, version}`)."""

    manifest_id = serializers.UUIDField(read_only=True)
    version = serializers.IntegerField(read_only=True, help_text="The frozen version's number.")


class VersionSummarySerializer(serializers.ModelSerializer):
    """A frozen version in a list, with how many projects pin it (`pinned_by`)."""

    manifest_id = serializers.UUIDField(read_only=True)
    pinned_by = serializers.IntegerField(read_only=True, help_text="Projects pinning it.")

    class Meta:
        model = ManifestVersion
        fields = [
            "manifest_id",
            "number",
            "frozen_at",
            "content_sha256",
            "asset_count",
            "pinned_by",
        ]
        read_only_fields = fields


class VersionDetailSerializer(serializers.ModelSerializer):
    """A frozen version: the manifest's fields and its assets in display order, as frozen."""

    manifest_id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(source="fields.name", read_only=True)
    description = serializers.CharField(source="fields.description", read_only=True)
    category = serializers.CharField(source="fields.category", read_only=True)
    tags = serializers.ListField(
        source="fields.tags", child=serializers.CharField(), read_only=True
    )
    status = serializers.CharField(source="fields.status", read_only=True)
    assets = FrozenAssetSerializer(many=True, read_only=True)

    class Meta:
        model = ManifestVersion
        fields = [
            "manifest_id",
            "number",
            "frozen_at",
            "content_sha256",
            "asset_count",
            "name",
            "description",
            "category",
            "tags",
            "status",
            "assets",
        ]
        read_only_fields = fields


class FromToSerializer(serializers.Serializer):
    """A value before and after (`from`, `to`: Python keywords, hence get_fields)."""

    def get_fields(self):
        return {
            "from": serializers.JSONField(read_only=True),
            "to": serializers.JSONField(read_only=True),
        }


class ChangedAssetSerializer(serializers.Serializer):
    tag = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True, help_text="Its name in the newer content.")
    fields = serializers.DictField(
        child=FromToSerializer(),
        read_only=True,
        help_text="Each changed field with its values; a new image shows as `image_sha256`.",
    )


class DiffSerializer(serializers.Serializer):
    """What changed between two contents, by tag (`services.versions_diff`)."""

    manifest = serializers.DictField(
        child=FromToSerializer(), read_only=True, help_text="The manifest's changed fields."
    )
    added = serializers.ListField(child=serializers.CharField(), read_only=True)
    removed = serializers.ListField(child=serializers.CharField(), read_only=True)
    changed = ChangedAssetSerializer(many=True, read_only=True)


class VersionDiffSerializer(DiffSerializer):
    """A diff from version `from` to `to` (`to` is the current version for `current`)."""

    manifest_id = serializers.UUIDField(read_only=True)
    against = serializers.CharField(read_only=True, help_text="As asked: a number or current.")

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.IntegerField(read_only=True)
        fields["to"] = serializers.IntegerField(read_only=True)
        return fields


class UpgradeSerializer(serializers.Serializer):
    """A project re-pinned: its old and new version numbers and what changed between them
    (`diff` is null when the old pin was made before versions were frozen)."""

    project = ProjectSerializer(read_only=True)
    diff = DiffSerializer(read_only=True, allow_null=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.IntegerField(read_only=True, allow_null=True)
        fields["to"] = serializers.IntegerField(read_only=True)
        return fields


class UnknownVersionSerializer(ErrorSerializer):
    versions = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        help_text="The manifest's frozen version numbers (when the manifest exists).",
    )


class UnknownTagSerializer(UnknownVersionSerializer):
    tags = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="The version's tags (when the version exists).",
    )
