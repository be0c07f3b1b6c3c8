"""Operations on manifests, assets and projects: the one place each rule lives.

Every change the API, the admin or a management command makes goes through one of these
functions, so tags, counts, versions, soft delete and files behave the same everywhere.
Each runs in one transaction and locks the manifest row while it changes the manifest's
counters, so concurrent requests cannot lose an update or hand out a tag twice.

Callers use the package (`from manifests import services; services.asset_create(...)`);
the modules split it by concern: `manifests`, `assets`, `bulk` (many images at once),
`contact_sheets`, `projects`, `versions` (frozen versions), `events` (the outbox and its
feed), `webhooks` (subscriptions and signed deliveries), `bundles` (a manifest as a zip,
out and in, with `bundle_json`), `purging`, `orphans`, `thumbnails`, and what they share in
`common` and `changes` (the one place a manifest changes). Stored files, for all of them,
are `manifests.files`.
"""

from manifests.services.assets import (
    ASSET_EDITABLE_FIELDS,
    asset_attach_image,
    asset_create,
    asset_delete,
    asset_render_thumbnail,
    asset_update,
)
from manifests.services.bulk import (
    BulkResult,
    RefusedFile,
    asset_name_from_filename,
    assets_bulk_check,
    assets_bulk_create,
)
from manifests.services.bundles import (
    manifest_export,
    manifest_export_version,
    manifest_import,
)
from manifests.services.common import MAX_LABEL_LENGTH, MAX_LABELS, normalize_labels
from manifests.services.contact_sheets import manifest_render_contact_sheet
from manifests.services.events import (
    EventDraft,
    event_record,
    events_feed,
    events_purge,
    events_record,
)
from manifests.services.manifests import (
    CREATE_STATUSES,
    MANIFEST_EDITABLE_FIELDS,
    manifest_copy_name,
    manifest_create,
    manifest_duplicate,
    manifest_duplicate_version,
    manifest_lock,
    manifest_restore,
    manifest_soft_delete,
    manifest_update,
)
from manifests.services.orphans import orphan_files_sweep
from manifests.services.projects import Upgrade, project_create, project_update, project_upgrade
from manifests.services.purging import manifest_purge_candidates, manifests_purge
from manifests.services.thumbnails import thumbnails_rebuild
from manifests.services.versions import (
    manifest_content,
    manifest_freeze,
    manifest_freeze_current,
    versions_diff,
)
from manifests.services.webhooks import (
    webhook_attempt,
    webhook_create,
    webhook_rotate_secret,
    webhook_send_test,
    webhook_update,
    webhooks_deliver_due,
    webhooks_redeliver,
    webhooks_resume,
)

__all__ = [
    "ASSET_EDITABLE_FIELDS",
    "CREATE_STATUSES",
    "MANIFEST_EDITABLE_FIELDS",
    "MAX_LABELS",
    "MAX_LABEL_LENGTH",
    "BulkResult",
    "EventDraft",
    "RefusedFile",
    "Upgrade",
    "asset_attach_image",
    "asset_create",
    "asset_delete",
    "asset_name_from_filename",
    "asset_render_thumbnail",
    "asset_update",
    "assets_bulk_check",
    "assets_bulk_create",
    "event_record",
    "events_feed",
    "events_purge",
    "events_record",
    "manifest_content",
    "manifest_copy_name",
    "manifest_create",
    "manifest_duplicate",
    "manifest_duplicate_version",
    "manifest_export",
    "manifest_export_version",
    "manifest_freeze",
    "manifest_freeze_current",
    "manifest_import",
    "manifest_lock",
    "manifest_purge_candidates",
    "manifest_render_contact_sheet",
    "manifest_restore",
    "manifest_soft_delete",
    "manifest_update",
    "manifests_purge",
    "normalize_labels",
    "orphan_files_sweep",
    "project_create",
    "project_update",
    "project_upgrade",
    "thumbnails_rebuild",
    "versions_diff",
    "webhook_attempt",
    "webhook_create",
    "webhook_rotate_secret",
    "webhook_send_test",
    "webhook_update",
    "webhooks_deliver_due",
    "webhooks_redeliver",
    "webhooks_resume",
]
