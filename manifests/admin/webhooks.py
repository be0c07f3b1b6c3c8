"""Webhooks in the admin: subscriptions (the secret shown once, on creation and rotation;
"send test event"; why delivery switched one off), their deliveries with every attempt
("redeliver"), and the event log. Every change goes through `manifests.services`."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from manifests import outbound, services
from manifests.admin.common import BoundedCounts, DomainErrorsAsMessages, adopt
from manifests.models import DeliveryAttempt, Event, WebhookDelivery, WebhookSubscription
from manifests.services.events import FEED_TYPES

EDITABLE = ("url", "event_types", "description", "active")


class WebhookSubscriptionForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in sorted(FEED_TYPES)],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: every type.",
    )

    class Meta:
        model = WebhookSubscription
        fields = ["url", "event_types", "description", "active"]

    def clean_url(self) -> str:
        """Refused targets (SSRF, schemes) are told on the field, as the API tells them."""
        url = self.cleaned_data["url"]
        try:
            outbound.check_url(url)
        except outbound.TargetRefused as exc:
            raise forms.ValidationError(str(exc)) from None
        return url


def _show_secret(request, subscription: WebhookSubscription, secret: str, what: str) -> None:
    messages.warning(
        request,
        format_html(
            "{} secret of {}: <code>{}</code>. It is shown this once: copy it now to "
            "verify the signatures of deliveries.",
            what,
            subscription.url,
            secret,
        ),
    )


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(DomainErrorsAsMessages, admin.ModelAdmin):
    form = WebhookSubscriptionForm
    list_display = ["url", "active", "types", "disabled_reason", "created_at"]
    list_filter = ["active"]
    search_fields = ["url", "description"]
    readonly_fields = ["disabled_reason", "disabled_at", "created_at", "updated_at"]
    fields = [
        "url",
        "event_types",
        "description",
        "active",
        "disabled_reason",
        "disabled_at",
        "created_at",
        "updated_at",
    ]

    @admin.display(description="event types")
    def types(self, obj: WebhookSubscription) -> str:
        return ", ".join(obj.event_types) or "all"

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in EDITABLE if name in form.cleaned_data}
        if change:
            adopt(obj, services.webhook_update(subscription=obj, **data))
            return
        subscription, secret = services.webhook_create(**data)
        adopt(obj, subscription)
        _show_secret(request, subscription, secret, "The")

    def get_urls(self):
        urls = [
            path(
                "<uuid:pk>/send-test/",
                self.admin_site.admin_view(self.send_test_view),
                name="manifests_webhooksubscription_send_test",
            ),
            path(
                "<uuid:pk>/rotate-secret/",
                self.admin_site.admin_view(self.rotate_secret_view),
                name="manifests_webhooksubscription_rotate_secret",
            ),
        ]
        return urls + super().get_urls()

    def _post_only(self, request, pk):
        if request.method != "POST":
            return None, HttpResponseNotAllowed(["POST"])
        subscription = get_object_or_404(WebhookSubscription, pk=pk)
        if not self.has_change_permission(request, subscription):
            return None, HttpResponseRedirect(reverse("admin:index"))
        return subscription, None

    def send_test_view(self, request, pk):
        subscription, refused = self._post_only(request, pk)
        if refused:
            return refused
        delivery = services.webhook_send_test(subscription=subscription)
        delivery_url = reverse("admin:manifests_webhookdelivery_change", args=[delivery.pk])
        messages.success(
            request,
            format_html(
                'Test event queued: <a href="{}">{}</a>. Its attempts show there.',
                delivery_url,
                delivery.webhook_id,
            ),
        )
        return HttpResponseRedirect(
            reverse("admin:manifests_webhooksubscription_change", args=[subscription.pk])
        )

    def rotate_secret_view(self, request, pk):
        subscription, refused = self._post_only(request, pk)
        if refused:
            return refused
        secret = services.webhook_rotate_secret(subscription=subscription)
        _show_secret(request, subscription, secret, "The new")
        return HttpResponseRedirect(
            reverse("admin:manifests_webhooksubscription_change", args=[subscription.pk])
        )


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ["number", "attempted_at", "status_code", "latency_ms", "error", "response_excerpt"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


# BoundedCounts: one row per event and subscription, the biggest table in time.
@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(BoundedCounts, admin.ModelAdmin):
    list_display = [
        "webhook_id",
        "subscription",
        "event_type",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "subscription"]
    list_select_related = ["subscription", "event"]
    search_fields = ["webhook_id"]
    inlines = [DeliveryAttemptInline]
    actions = ["redeliver"]
    fields = [
        "webhook_id",
        "subscription",
        "event",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
        "finished_at",
        "body",
    ]
    readonly_fields = fields

    @admin.display(description="event")
    def event_type(self, obj: WebhookDelivery) -> str:
        return obj.event.type if obj.event_id else "webhook.test"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Redeliver the selected deliveries (same webhook-id)")
    def redeliver(self, request, queryset):
        queued = services.webhooks_redeliver(deliveries=list(queryset))
        skipped = queryset.count() - queued
        messages.success(request, f"Queued {queued} deliveries again.")
        if skipped:
            messages.warning(
                request,
                f"{skipped} skipped: their subscription is switched off; switch it on first.",
            )


# BoundedCounts: one row per change of any manifest.
@admin.register(Event)
class EventAdmin(BoundedCounts, admin.ModelAdmin):
    list_display = ["id", "type", "manifest_id", "version", "actor", "occurred_at"]
    list_filter = ["type"]
    search_fields = ["=manifest_id", "actor"]
    fields = ["id", "type", "occurred_at", "manifest_id", "version", "actor", "payload"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
