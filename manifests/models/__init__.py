"""The app's models, one module per concern: manifests, assets and projects in
`manifests.models.manifests`, frozen versions in `manifests.models.versions`, events and
webhooks in `manifests.models.events`. Import them from here
(`from manifests.models import Manifest`)."""

from manifests.labels import LabelListField
from manifests.models.events import (
    DeliveryAttempt,
    Event,
    EventCounter,
    EventType,
    WebhookDelivery,
    WebhookSubscription,
)
from manifests.models.manifests import (
    MANIFESTS_AREA,
    MAX_DESCRIPTION_LENGTH,
    SORT_ORDER_MAX,
    SORT_ORDER_MIN,
    Asset,
    AssetQuerySet,
    Manifest,
    ManifestQuerySet,
    Project,
    asset_thumbnail_path,
    asset_upload_path,
    manifest_contact_sheet_path,
    manifest_folder,
    manifest_media_path,
    manifest_thumbnail_path,
)
from manifests.models.versions import (
    FROZEN_ASSET_FIELDS,
    FROZEN_MANIFEST_FIELDS,
    ManifestVersion,
    VersionFile,
)

__all__ = [
    "FROZEN_ASSET_FIELDS",
    "FROZEN_MANIFEST_FIELDS",
    "MANIFESTS_AREA",
    "MAX_DESCRIPTION_LENGTH",
    "SORT_ORDER_MAX",
    "SORT_ORDER_MIN",
    "Asset",
    "AssetQuerySet",
    "DeliveryAttempt",
    "Event",
    "EventCounter",
    "EventType",
    "LabelListField",
    "Manifest",
    "ManifestQuerySet",
    "ManifestVersion",
    "Project",
    "VersionFile",
    "WebhookDelivery",
    "WebhookSubscription",
    "asset_thumbnail_path",
    "asset_upload_path",
    "manifest_contact_sheet_path",
    "manifest_folder",
    "manifest_media_path",
    "manifest_thumbnail_path",
]
