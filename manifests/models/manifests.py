"""Manifests, their assets and the projects that use them.

Manifests are soft-deleted: `Manifest.objects` (the default manager, used by the API, the
admin and relations) sees live rows only, `Manifest.all_objects` sees every row and
`Manifest.deleted_objects` the deleted ones. Even a bulk `delete()` on a queryset is soft;
only `hard_delete()` (used by purge) removes rows.
"""

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models import Prefetch, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

# LabelListField lives in manifests.labels; migrations name it `manifests.models.LabelListField`.
from manifests.labels import LabelListField, label_counts

# Text fields are unbounded in the database; this bounds what clients and staff may store.
MAX_DESCRIPTION_LENGTH = 10_000
# A 32-bit integer column on every backend (SQLite would take more; PostgreSQL would not).
SORT_ORDER_MIN, SORT_ORDER_MAX = -(2**31), 2**31 - 1


# The storage folder under which every manifest's files live (`manifests.files` sweeps it).
MANIFESTS_AREA = "manifests"


def manifest_folder(manifest_id: uuid.UUID | str) -> str:
    """The storage folder that holds every file of one manifest: `manifests/<id>`."""
    return f"{MANIFESTS_AREA}/{manifest_id}"


def manifest_media_path(manifest_id: uuid.UUID | str, folder: str, filename: str) -> str:
    """Where a manifest's files live in storage: `manifests/<id>/<folder>/<filename>`."""
    return f"{manifest_folder(manifest_id)}/{folder}/{filename}"


def asset_upload_path(asset: "Asset", filename: str) -> str:
    return manifest_media_path(asset.manifest_id, "uploads", f"{asset.id}_{filename}")


def asset_thumbnail_path(asset: "Asset", filename: str) -> str:
    return manifest_media_path(asset.manifest_id, "thumbnails", filename)


def manifest_thumbnail_path(manifest: "Manifest", filename: str) -> str:
    return manifest_media_path(manifest.id, "thumbnails", filename)


def manifest_contact_sheet_path(manifest: "Manifest", filename: str) -> str:
    return manifest_media_path(manifest.id, "contact_sheets", filename)


# The rows every live view reads: the condition of the partial indexes below.
LIVE = Q(deleted_at__isnull=True)


class ManifestQuerySet(models.QuerySet):
    def alive(self) -> "ManifestQuerySet":
        return self.filter(deleted_at__isnull=True)

    def deleted(self) -> "ManifestQuerySet":
        return self.filter(deleted_at__isnull=False)

    def with_assets(self) -> "ManifestQuerySet":
        """Prefetch each manifest's assets in display order (one extra query in all)."""
        return self.prefetch_related(Prefetch("assets", queryset=Asset.all_objects.ordered()))

    def referencing_projects(self) -> "models.QuerySet[Project]":
        return Project.objects.filter(manifest__in=self.values("pk")).order_by("name")

    def tag_counts(self, limit: int) -> list[tuple[str, int]]:
        """The `limit` most used tags of these manifests with their counts, most used first."""
        return label_counts(self, "tags", limit)

    def copies_of(self, manifest: "Manifest") -> "ManifestQuerySet":
        """The manifests duplicated from `manifest` (not their own copies), oldest first."""
        return self.filter(parent_manifest=manifest).order_by("created_at")

    def delete(self) -> tuple[int, dict[str, int]]:
        """Soft, like every delete of a manifest (refused, for all of them, when projects
        reference any: ManifestInUse); use `hard_delete()` to remove rows."""
        from manifests.services.manifests import manifests_soft_delete  # services import models

        count = manifests_soft_delete(self)
        return count, {self.model._meta.label: count}

    delete.alters_data = True
    delete.queryset_only = True

    def hard_delete(self) -> tuple[int, dict[str, int]]:
        """Remove the rows (and, by cascade, their assets). Files are the caller's job."""
        return super().delete()

    hard_delete.alters_data = True
    hard_delete.queryset_only = True


class LiveManifestManager(models.Manager.from_queryset(ManifestQuerySet)):
    def get_queryset(self) -> ManifestQuerySet:
        return super().get_queryset().alive()


class DeletedManifestManager(models.Manager.from_queryset(ManifestQuerySet)):
    def get_queryset(self) -> ManifestQuerySet:
        return super().get_queryset().deleted()


class Manifest(models.Model):
    class Category(models.TextChoices):
        CHARACTERS = "CHARACTERS", "Characters"
        ENVIRONMENTS = "ENVIRONMENTS", "Environments"
        OBJECTS = "OBJECTS", "Objects"
        STYLES = "STYLES", "Styles"
        MIXED = "MIXED", "Mixed"
        CUSTOM = "CUSTOM", "Custom"

    class Status(models.TextChoices):
        DRAFT = "DRAFT", "Draft"
        PROCESSING = "PROCESSING", "Processing"
        READY = "READY", "Ready"
        ERROR = "ERROR", "Error"

    # Which status may follow which: processing is the only way to READY or ERROR.
    STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
        Status.DRAFT: frozenset({Status.PROCESSING}),
        Status.PROCESSING: frozenset({Status.READY, Status.ERROR, Status.DRAFT}),
        Status.READY: frozenset({Status.PROCESSING, Status.DRAFT}),
        Status.ERROR: frozenset({Status.PROCESSING, Status.DRAFT}),
    }

    # What clients and curators may set; the API's serializers, the admin's forms and the
    # services all take this list, so none can drift from the others.
    EDITABLE_FIELDS = (
        "name",
        "description",
        "category",
        "tags",
        "status",
        "processing_progress",
        "total_processing_cost",
    )

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="", max_length=MAX_DESCRIPTION_LENGTH)
    category = models.CharField(max_length=20, choices=Category.choices, default=Category.CUSTOM)
    tags = LabelListField(default=list, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    processing_progress = models.JSONField(null=True, blank=True)
    thumbnail = models.ImageField(
        upload_to=manifest_thumbnail_path, max_length=500, blank=True, default=""
    )
    contact_sheet = models.ImageField(
        upload_to=manifest_contact_sheet_path, max_length=500, blank=True, default=""
    )
    asset_count = models.PositiveIntegerField(default=0, editable=False)
    total_processing_cost = models.DecimalField(max_digits=10, decimal_places=4, default=0)
    times_used = models.PositiveIntegerField(default=0, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    # Moves with every change that the manifest's representations show (content, usage,
    # derived files, deletion), where `version` moves with content only: the ETag's source.
    # Kept by services.changes.manifest_change, through which every change passes.
    revision = models.PositiveBigIntegerField(default=1, editable=False)
    parent_manifest = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="copies",
        editable=False,
    )
    # Highest tag number ever handed out per prefix, e.g. {"CHAR": 3}: see manifests.tagging.
    tag_sequences = models.JSONField(default=dict, blank=True, editable=False)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LiveManifestManager()
    all_objects = ManifestQuerySet.as_manager()
    deleted_objects = DeletedManifestManager()

    class Meta:
        ordering = ["-updated_at"]
        # Every ordering and filter of the API and the admin reads live rows in index
        # order: partial indexes over `deleted_at IS NULL`, each ending with `id`, the
        # tie-breaker every ordering carries (manifests.filters.OrderingFilter), so a page
        # is the first rows of one index. `manifest_live_created_id` is also the cursor
        # pagination's. PostgreSQL has more that SQLite cannot hold (GIN: trigram search,
        # tag containment): migration 0006 creates them, outside the model state.
        indexes = [
            models.Index(fields=["updated_at", "id"], name="manifest_live_updated", condition=LIVE),
            models.Index(fields=["name", "id"], name="manifest_live_name", condition=LIVE),
            models.Index(
                fields=["times_used", "id"], name="manifest_live_times_used", condition=LIVE
            ),
            models.Index(
                fields=["asset_count", "id"], name="manifest_live_asset_count", condition=LIVE
            ),
            models.Index(
                fields=["created_at", "id"], name="manifest_live_created_id", condition=LIVE
            ),
            models.Index(
                fields=["category", "updated_at", "id"],
                name="manifest_live_category",
                condition=LIVE,
            ),
            models.Index(
                fields=["status", "updated_at", "id"], name="manifest_live_status", condition=LIVE
            ),
            # The admin's deleted view and purge read the few deleted rows.
            models.Index(
                fields=["deleted_at"],
                name="manifest_deleted",
                condition=Q(deleted_at__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="manifest_name_not_blank"),
            models.CheckConstraint(condition=Q(version__gte=1), name="manifest_version_gte_1"),
            models.CheckConstraint(
                condition=Q(total_processing_cost__gte=0), name="manifest_cost_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def delete(self, using=None, keep_parents=False):
        """Soft delete, refused when projects reference the manifest (ManifestInUse)."""
        count, _ = Manifest.all_objects.filter(pk=self.pk).delete()
        self.refresh_from_db(fields=["deleted_at", "revision"])
        return count, {self._meta.label: count}

    delete.alters_data = True

    def hard_delete(self) -> tuple[int, dict[str, int]]:
        return super().delete()

    hard_delete.alters_data = True

    def ancestors(self) -> list["Manifest"]:
        """The manifests this one was copied from, the original first, deleted ones included.

        One query whatever the depth: a recursive CTE climbs `parent_manifest` in the
        database. Its UNION (not UNION ALL) drops ids already seen, so a cycle, which
        duplication cannot make but a hand-edited row could, ends too.
        """
        if self.parent_manifest_id is None:
            return []
        db = self._state.db or DEFAULT_DB_ALIAS
        connection = connections[db]
        quote = connection.ops.quote_name
        table, pk = quote(self._meta.db_table), quote(self._meta.pk.column)
        parent = quote(self._meta.get_field("parent_manifest").column)
        climb = (
            f"WITH RECURSIVE lineage(id) AS ("
            f"SELECT {parent} FROM {table} WHERE {pk} = %s AND {parent} IS NOT NULL "
            f"UNION SELECT m.{parent} FROM {table} m JOIN lineage ON m.{pk} = lineage.id "
            f"WHERE m.{parent} IS NOT NULL"
            f") SELECT id FROM lineage"
        )
        own_pk = self._meta.pk.get_db_prep_value(self.pk, connection)
        found = (
            Manifest.all_objects.using(db)
            .filter(pk__in=RawSQL(climb, (own_pk,)))
            .exclude(pk=self.pk)
            .order_by()
        )
        by_pk = {manifest.pk: manifest for manifest in found}
        chain, parent_id = [], self.parent_manifest_id
        while parent_id in by_pk:
            ancestor = by_pk.pop(parent_id)  # popped: a cycle cannot bring it back
            chain.append(ancestor)
            parent_id = ancestor.parent_manifest_id
        return chain[::-1]


class AssetQuerySet(models.QuerySet):
    def alive(self) -> "AssetQuerySet":
        """Assets whose manifest is not soft-deleted."""
        return self.filter(manifest__deleted_at__isnull=True)

    def ordered(self) -> "AssetQuerySet":
        # `id` last: assets created in one instant (bulk, duplicate) keep one order.
        return self.order_by("sort_order", "created_at", "id")


class LiveAssetManager(models.Manager.from_queryset(AssetQuerySet)):
    def get_queryset(self) -> AssetQuerySet:
        return super().get_queryset().alive()


class Asset(models.Model):
    class AssetType(models.TextChoices):
        CHARACTER = "CHARACTER", "Character"
        OBJECT = "OBJECT", "Object"
        ENVIRONMENT = "ENVIRONMENT", "Environment"
        STYLE = "STYLE", "Style"
        VEHICLE = "VEHICLE", "Vehicle"
        OTHER = "OTHER", "Other"

    class Source(models.TextChoices):
        UPLOAD = "UPLOAD", "Upload"
        EXTRACTED = "EXTRACTED", "Extracted"
        GENERATED = "GENERATED", "Generated"

    # What clients and curators may set (see Manifest.EDITABLE_FIELDS).
    EDITABLE_FIELDS = ("name", "asset_type", "description", "user_tags", "source", "sort_order")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    manifest = models.ForeignKey(
        Manifest, on_delete=models.CASCADE, related_name="assets", db_index=False
    )
    asset_type = models.CharField(max_length=20, choices=AssetType.choices)
    name = models.CharField(max_length=200)
    manifest_tag = models.CharField(max_length=32, editable=False)
    user_tags = LabelListField(default=list, blank=True)
    reference_image = models.ImageField(
        upload_to=asset_upload_path, max_length=500, blank=True, default=""
    )
    thumbnail = models.ImageField(
        upload_to=asset_thumbnail_path, max_length=500, blank=True, default=""
    )
    # What the upload decoded as (recorded, never trusted from the client).
    image_format = models.CharField(max_length=10, blank=True, default="", editable=False)
    image_width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    image_height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    image_sha256 = models.CharField(max_length=64, blank=True, default="", editable=False)
    description = models.TextField(blank=True, default="", max_length=MAX_DESCRIPTION_LENGTH)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.UPLOAD)
    sort_order = models.IntegerField(
        default=0,
        validators=[MinValueValidator(SORT_ORDER_MIN), MaxValueValidator(SORT_ORDER_MAX)],
    )
    # A default rather than auto_now_add so that a duplicate can keep its source's order.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LiveAssetManager()
    all_objects = AssetQuerySet.as_manager()

    class Meta:
        ordering = ["sort_order", "created_at"]
        # A manifest's assets in order (its leading `manifest` also serves the foreign
        # key, which has no index of its own), and each ordering and filter of
        # `/api/assets` and the admin, `id` last as the tie-breaker. PostgreSQL's GIN
        # indexes (search, user tags) are in migration 0006.
        indexes = [
            models.Index(fields=["manifest", "sort_order", "created_at", "id"], name="asset_order"),
            models.Index(fields=["sort_order", "created_at", "id"], name="asset_sort_order"),
            models.Index(fields=["created_at", "id"], name="asset_created_id"),
            models.Index(fields=["updated_at", "id"], name="asset_updated"),
            models.Index(fields=["name", "id"], name="asset_name"),
            models.Index(fields=["manifest_tag", "id"], name="asset_tag"),
            models.Index(
                fields=["asset_type", "sort_order", "created_at", "id"], name="asset_type"
            ),
            models.Index(fields=["source", "sort_order", "created_at", "id"], name="asset_source"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["manifest", "manifest_tag"], name="asset_tag_unique"),
            models.CheckConstraint(condition=~Q(name=""), name="asset_name_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.manifest_tag} {self.name}"


class Project(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    # PROTECT: a referenced manifest is never purged; soft delete is refused in the domain.
    manifest = models.ForeignKey(
        Manifest,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="projects",
        db_index=True,
    )
    manifest_version = models.PositiveIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="project_name_not_blank"),
        ]

    def __str__(self) -> str:
        return self.name
