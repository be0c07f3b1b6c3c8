"""Events and webhooks in the API: the pull feed (`/api/events`) and subscriptions
(`/api/webhooks`, staff only), which call `manifests.services`."""

import uuid

from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from manifests import services
from manifests.models import DeliveryAttempt, WebhookDelivery, WebhookSubscription
from manifests.schema import ApiAutoSchema
from manifests.serializers_events import (
    EventFeedSerializer,
    WebhookDeliverySerializer,
    WebhookSecretSerializer,
    WebhookSubscriptionSerializer,
)
from manifests.services.events import DEFAULT_FEED_LIMIT, FEED_TYPES, MAX_FEED_LIMIT

MAX_ID = 2**63 - 1
BAD_REQUEST = OpenApiResponse(
    OpenApiTypes.OBJECT, description="Bad input: `{field: [messages]}`, each saying why."
)


def _whole_number(params, name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise exceptions.ValidationError({name: [f"Must be a whole number from {low} to {high}."]})
    return int(raw)


class FeedSchema(ApiAutoSchema):
    """The feed answers one object (a page and its cursor), not a list of them."""

    def _is_list_view(self, serializer=None) -> bool:
        return False


class EventViewSet(viewsets.GenericViewSet):
    """The change feed: events in id order after a cursor."""

    schema = FeedSchema()

    filter_backends: list = []
    pagination_class = None
    serializer_class = EventFeedSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "after",
                OpenApiTypes.INT,
                description="Only events after this id (the `next_after` of the last page; "
                "0 or left out: from the first kept).",
            ),
            OpenApiParameter(
                "type",
                str,
                description="Only these types, comma-separated (e.g. `asset.created,"
                "manifest.status_changed`).",
            ),
            OpenApiParameter("manifest", OpenApiTypes.UUID, description="Only this manifest's."),
            OpenApiParameter(
                "limit",
                OpenApiTypes.INT,
                description=f"Most events per page, 1 to {MAX_FEED_LIMIT} (default "
                f"{DEFAULT_FEED_LIMIT}).",
            ),
        ],
        responses={200: EventFeedSerializer, 400: BAD_REQUEST},
    )
    def list(self, request):
        """Events after `after`, in id order. Ids are consecutive and commit in order: a
        consumer that keeps the last id it saw never misses nor repeats one."""
        params = request.query_params
        after = _whole_number(params, "after", 0, 0, MAX_ID)
        limit = _whole_number(params, "limit", DEFAULT_FEED_LIMIT, 1, MAX_FEED_LIMIT)
        types = [t.strip() for t in params.get("type", "").split(",") if t.strip()]
        if len(types) > len(FEED_TYPES):
            raise exceptions.ValidationError(
                {"type": [f"At most {len(FEED_TYPES)} types (there are no more)."]}
            )
        unknown = sorted({t for t in types if t not in FEED_TYPES})
        if unknown:
            shown = ", ".join(repr(t[:60]) for t in unknown[:5])
            raise exceptions.ValidationError(
                {"type": [f"Unknown type(s): {shown}; known: {', '.join(sorted(FEED_TYPES))}."]}
            )
        manifest_id = None
        if params.get("manifest"):
            try:
                manifest_id = uuid.UUID(params["manifest"])
            except ValueError:
                raise exceptions.ValidationError(
                    {"manifest": ["Must be a manifest id (UUID)."]}
                ) from None
        events = services.events_feed(
            after=after, types=types, manifest_id=manifest_id, limit=limit + 1
        )
        page = events[:limit]
        data = {
            "results": page,
            "next_after": page[-1].id if page else after,
            "has_more": len(events) > limit,
        }
        return Response(EventFeedSerializer(data).data)


class IsStaff(permissions.BasePermission):
    message = "Only staff users may see or change webhook subscriptions."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)


SECRET_ONCE = OpenApiResponse(
    WebhookSecretSerializer, description="The subscription, with its secret: shown this once."
)


class WebhookViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Webhook subscriptions (staff only). The secret is shown on creation and rotation."""

    queryset = WebhookSubscription.objects.all()
    serializer_class = WebhookSubscriptionSerializer
    permission_classes = [IsStaff]
    filter_backends: list = []

    @extend_schema(
        request=WebhookSubscriptionSerializer,
        responses={201: SECRET_ONCE, 400: BAD_REQUEST},
    )
    def create(self, request):
        """Subscribe a URL to event types; the answer holds the secret, shown this once."""
        serializer = WebhookSubscriptionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription, secret = services.webhook_create(**self._changes(serializer))
        data = WebhookSecretSerializer(subscription).data
        data["secret"] = secret
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=WebhookSubscriptionSerializer,
        responses={200: WebhookSubscriptionSerializer, 400: BAD_REQUEST},
    )
    def partial_update(self, request, pk=None):
        """Change the URL, event types, description or active flag (on again: the reason
        it was switched off is forgotten)."""
        subscription = self.get_object()
        serializer = WebhookSubscriptionSerializer(subscription, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        updated = services.webhook_update(subscription=subscription, **self._changes(serializer))
        return Response(WebhookSubscriptionSerializer(updated).data)

    @staticmethod
    def _changes(serializer) -> dict:
        fields = ("url", "event_types", "active", "description")
        return {
            name: serializer.validated_data[name]
            for name in fields
            if name in serializer.validated_data
        }

    @extend_schema(request=None, responses={200: SECRET_ONCE})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """A new secret, in force at once (the old one stops signing): shown this once."""
        subscription = self.get_object()
        secret = services.webhook_rotate_secret(subscription=subscription)
        data = WebhookSecretSerializer(subscription).data
        data["secret"] = secret
        return Response(data)

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Queue a `webhook.test` delivery to this subscription."""
        delivery = services.webhook_send_test(subscription=self.get_object())
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: WebhookDeliverySerializer(many=True)})
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        """The subscription's deliveries, newest first, each with its attempts."""
        subscription = self.get_object()
        deliveries = WebhookDelivery.objects.filter(subscription=subscription).prefetch_related(
            Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("number"))
        )
        page = self.paginate_queryset(deliveries)
        serializer = WebhookDeliverySerializer(page, many=True)
        return self.get_paginated_response(serializer.data)
