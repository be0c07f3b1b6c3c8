"""Serializers of the event feed and of webhook subscriptions and deliveries."""

from rest_framework import serializers

from manifests.models import (
    DeliveryAttempt,
    Event,
    WebhookDelivery,
    WebhookSubscription,
)


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = Event
        fields = ["id", "type", "occurred_at", "manifest_id", "version", "actor", "payload"]


class EventFeedSerializer(serializers.Serializer):
    results = EventSerializer(many=True)
    next_after = serializers.IntegerField(
        help_text="Pass as `after` for the next page: the last id returned (or the `after` "
        "given, when none was)."
    )
    has_more = serializers.BooleanField(help_text="Whether more events follow at once.")


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    # Checked by the services, which say what is wrong (scheme, host, address: SSRF).
    url = serializers.CharField(
        help_text="Where to POST events: http(s), a host whose addresses are all public."
    )
    event_types = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Event types to deliver; empty or left out: every type.",
    )

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "url",
            "event_types",
            "active",
            "description",
            "disabled_reason",
            "disabled_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "disabled_reason", "disabled_at", "created_at", "updated_at"]


class WebhookSecretSerializer(WebhookSubscriptionSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="`whsec_<base64>`: shown in this answer only; keep it to verify signatures.",
    )

    class Meta(WebhookSubscriptionSerializer.Meta):
        fields = [*WebhookSubscriptionSerializer.Meta.fields, "secret"]


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = [
            "number",
            "attempted_at",
            "status_code",
            "latency_ms",
            "response_excerpt",
            "error",
        ]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    attempt_log = DeliveryAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "webhook_id",
            "event",
            "status",
            "attempts",
            "next_attempt_at",
            "created_at",
            "finished_at",
            "attempt_log",
        ]
