"""Frozen versions: immutable records of a manifest at one version number.

A project pins a manifest's `version`; the frozen record is what that number means for
good: the manifest's fields and its assets in display order, with the names of the stored
files they showed. The files themselves are not copied: `VersionFile` lists every file a
frozen version names, and no file listed there is ever removed while the version exists
(`manifests.files` asks before removing anything).
"""

from django.db import models
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from manifests.models.manifests import Manifest, Project

# What a frozen record keeps of the manifest and of each asset, in this order.
FROZEN_MANIFEST_FIELDS = ("name", "description", "category", "tags", "status")
FROZEN_ASSET_FIELDS = (
    "id",
    "manifest_tag",
    "name",
    "asset_type",
    "description",
    "user_tags",
    "sort_order",
    "source",
    "reference_image",
    "thumbnail",
    "image_sha256",
    "image_format",
    "image_width",
    "image_height",
)


class ManifestVersionQuerySet(models.QuerySet):
    def with_pin_counts(self) -> "ManifestVersionQuerySet":
        """Annotate `pinned_by`: how many projects pin each version (a subquery, so one
        query whatever the number of versions)."""
        pins = (
            Project.objects.filter(
                manifest=OuterRef("manifest"), manifest_version=OuterRef("number")
            )
            .order_by()
            .values("manifest")
            .annotate(count=Count("pk"))
            .values("count")
        )
        return self.annotate(pinned_by=Coalesce(Subquery(pins), 0))

    def resolve(self, number: int | str) -> "ManifestVersion | None":
        """The version `number` of these (one manifest's), or the newest for "latest"."""
        if number == "latest":
            return self.order_by("-number").first()
        return self.filter(number=number).first()


class ManifestVersion(models.Model):
    """A manifest as it was at version `number`: written once, never changed."""

    manifest = models.ForeignKey(
        Manifest, on_delete=models.CASCADE, related_name="frozen_versions", db_index=False
    )
    number = models.PositiveIntegerField()
    frozen_at = models.DateTimeField(auto_now_add=True)
    # {"manifest": {field: value}, "assets": [{field: value}, …]} (FROZEN_*_FIELDS).
    content = models.JSONField()
    # sha256 of the canonical JSON of `content`: the strong ETag of its representations.
    content_sha256 = models.CharField(max_length=64)
    asset_count = models.PositiveIntegerField()

    objects = ManifestVersionQuerySet.as_manager()

    class Meta:
        ordering = ["manifest_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["manifest", "number"], name="version_number_unique"),
            models.CheckConstraint(condition=Q(number__gte=1), name="version_number_gte_1"),
        ]

    def __str__(self) -> str:
        return f"{self.manifest_id} v{self.number}"

    def save(self, *args, **kwargs):
        # Written once: a frozen version is never changed (only purged with its manifest,
        # by the database's cascade).
        if not self._state.adding:
            raise TypeError("A frozen version is immutable.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("A frozen version goes only with its manifest (purge).")

    @property
    def assets(self) -> list[dict]:
        return self.content["assets"]

    @property
    def fields(self) -> dict:
        return self.content["manifest"]


class VersionFileQuerySet(models.QuerySet):
    def held(self, names) -> set[str]:
        """Those of `names` that a frozen version names: they must stay in storage."""
        names = [name for name in names if name]
        if not names:
            return set()
        return set(self.filter(name__in=names).values_list("name", flat=True))


class VersionFile(models.Model):
    """One stored file that a frozen version names (an asset's image or thumbnail)."""

    version = models.ForeignKey(ManifestVersion, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=500)

    objects = VersionFileQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["name"], name="version_file_name")]
        constraints = [
            models.UniqueConstraint(fields=["version", "name"], name="version_file_unique"),
        ]

    def __str__(self) -> str:
        return self.name
