"""The curation UI: Django's admin, thin classes whose every change goes through
`manifests.services` (see manifests.admin.manifests for the tour)."""

from django.contrib import admin

from manifests.admin.assets import AssetAdmin, AssetInline
from manifests.admin.manifests import ManifestAdmin
from manifests.admin.projects import ProjectAdmin
from manifests.admin.webhooks import EventAdmin, WebhookDeliveryAdmin, WebhookSubscriptionAdmin

admin.site.site_header = "vidpipe manifests"
admin.site.site_title = "vidpipe manifests"
admin.site.index_title = "Curation"

__all__ = [
    "AssetAdmin",
    "AssetInline",
    "EventAdmin",
    "ManifestAdmin",
    "ProjectAdmin",
    "WebhookDeliveryAdmin",
    "WebhookSubscriptionAdmin",
]
