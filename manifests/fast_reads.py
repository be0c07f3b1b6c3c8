"""Reads at the speed of the rows: a serializer's representation, derived from its fields.

DRF's `Serializer.to_representation` asks every field of every row for its attribute
(`get_attribute`, with its generic lookups and error handling) and its representation. A
list page of 50 manifests pays that 850 times, and a 1,000-asset manifest 17,000, after
building the serializer's fields (about a millisecond) on every request. `FastReads` plans
the same work once per serializer class and binds it to a request's context once per
answer (the rows of a list share one child serializer): for each readable field, in the
serializer's order, a direct attribute read when its source is a column or a relation of
the model, and the field's own representation, short-cut where DRF's is the identity (a
`str` of a CharField, an `int` of an IntegerField, a JSONField's value) or a fixed recipe
(UUIDs, ISO 8601 datetimes, file URLs). Any other field keeps DRF's path, so a field
added to a serializer is shown exactly as DRF shows it, fast or not. Writes never come
here: validation is DRF's, unchanged.
"""

import datetime
import uuid
from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Any

from django.core.signals import setting_changed
from django.db import models
from django.db.models.manager import BaseManager
from django.dispatch import receiver
from rest_framework import ISO_8601, serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject
from rest_framework.settings import api_settings

# (field name, how to read its attribute, how to represent a value that is not None)
Step = tuple[str, Callable[[Any], Any], Callable[[Any], Any]]


def _model_sources(model) -> set[str]:
    """Attribute names of `model` that read a value directly: columns (by name and attname)
    and many-valued relations (their managers)."""
    names = set()
    for model_field in model._meta.get_fields():
        if model_field.concrete:
            names.update({model_field.name, model_field.attname})
        elif model_field.one_to_many or model_field.many_to_many:
            names.add(model_field.get_accessor_name() or model_field.name)
    return names


def _same_method(field: serializers.Field, base: type) -> bool:
    """Whether `field` represents values exactly as `base` does (no override on the way)."""
    return type(field).to_representation is base.to_representation


def _of_type(kind: type, slow: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The value itself when it is exactly of `kind` (DRF's representation is then the
    identity); else DRF's representation."""
    return lambda value: value if type(value) is kind else slow(value)


def _datetime_representation(field: serializers.DateTimeField) -> Callable[[Any], Any]:
    """DRF's ISO 8601 rendering of an aware datetime in the field's time zone ('Z' for UTC);
    anything else (naive values, strings, other formats) goes to DRF's."""
    slow = field.to_representation
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    zone = field.timezone if hasattr(field, "timezone") else field.default_timezone()
    if output_format is None or output_format.lower() != ISO_8601 or zone is None:
        return slow

    def represent(value):
        if type(value) is not datetime.datetime or value.utcoffset() is None:
            return slow(value)
        text = value.astimezone(zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return represent


def representation(field: serializers.Field) -> Callable[[Any], Any]:
    """How `field` represents a value that is not None: a short cut of exactly DRF's
    result where one is known, else the field's own `to_representation`."""
    slow = field.to_representation
    if _same_method(field, serializers.DateTimeField):
        return _datetime_representation(field)
    if _same_method(field, serializers.UUIDField) and field.uuid_format == "hex_verbose":
        return lambda value: str(value) if type(value) is uuid.UUID else slow(value)
    if _same_method(field, serializers.ChoiceField):
        choices = field.choice_strings_to_values
        return lambda value: choices.get(value, value) if type(value) is str else slow(value)
    if _same_method(field, serializers.CharField):
        return _of_type(str, slow)
    if _same_method(field, serializers.IntegerField):
        return _of_type(int, slow)
    if _same_method(field, serializers.JSONField) and not field.binary:
        return lambda value: value
    return slow


# Fields whose representation reads nothing but the value and the field's own options, so a
# plan made from one serializer instance serves every request. (A method field asks its
# serializer; a related field may build URLs from the request: those are planned per
# instance.)
CONTEXT_FREE_MODULE = "rest_framework.fields"
CONTEXT_BOUND = (serializers.SerializerMethodField, serializers.HiddenField)

# (field name, how to read its attribute, how to represent a value that is not None, made
# for the context of a request)
Template = tuple[str, Callable[[Any], Any], Callable[[dict], Callable[[Any], Any]]]


def _nested(field: serializers.Field) -> Callable[[dict], Callable[[Any], Any]] | None:
    """For a nested serializer of FastReads (one or many), its own plan, bound to the
    request's context; None for any other field."""
    many = isinstance(field, serializers.ListSerializer)
    serializer = field.child if many else field
    if not isinstance(serializer, FastReads):
        return None
    templates = serializer.read_templates()
    if templates is None:
        return None

    def make(context):
        steps = bind(templates, context)
        if not many:
            return lambda value: represent_row(steps, value)

        def represent_many(value):
            rows = value.all() if isinstance(value, BaseManager) else value  # as DRF does
            return [represent_row(steps, row) for row in rows]

        return represent_many

    return make


def templates_of(serializer: serializers.Serializer) -> tuple[list[Template], bool]:
    """The steps of `serializer`'s representation, one per readable field in order, each
    waiting for a request's context; and whether they hold for every instance of its class
    (no field depends on the instance it is bound to)."""
    meta = getattr(serializer, "Meta", None)
    model = getattr(meta, "model", None)
    direct = _model_sources(model) if model is not None else set()
    templates, shared = [], True
    for field in serializer._readable_fields:
        source = field.source
        if source in direct and len(field.source_attrs) == 1:
            read = attrgetter(source)
        else:
            read = field.get_attribute
        make = _nested(field)
        if make is None:
            if hasattr(field, "fast_representation"):
                make = field.fast_representation
            else:
                context_free = type(field).__module__ == CONTEXT_FREE_MODULE and not isinstance(
                    field, CONTEXT_BOUND
                )
                shared = shared and context_free
                make = _constant(representation(field))
        templates.append((field.field_name, read, make))
    return templates, shared


def _constant(represent: Callable[[Any], Any]) -> Callable[[dict], Callable[[Any], Any]]:
    return lambda context: represent


def bind(templates: list[Template], context: dict) -> list[Step]:
    return [(name, read, make(context)) for name, read, make in templates]


def represent_row(steps: list[Step], instance: Any) -> dict:
    """What DRF's `Serializer.to_representation` returns for `instance`, by `steps`."""
    ret = {}
    for name, read, represent in steps:
        try:
            attribute = read(instance)
        except SkipField:
            continue
        # None is shown as null without asking the field, as DRF does (a related field's
        # pk-only object by its pk).
        if attribute is None or (isinstance(attribute, PKOnlyObject) and attribute.pk is None):
            ret[name] = None
        else:
            ret[name] = represent(attribute)
    return ret


# Plans shared by every instance of a serializer class; settings that shape representations
# (REST_FRAMEWORK formats, the time zone) drop them.
_shared_templates: dict[type, list[Template] | None] = {}


@receiver(setting_changed)
def _forget_plans(*, setting, **kwargs):
    if setting in {"REST_FRAMEWORK", "TIME_ZONE", "USE_TZ"}:
        _shared_templates.clear()


def row_columns(serializer: serializers.Serializer) -> list[str] | None:
    """The columns from which `serializer` shows a row exactly as from a model instance, in
    its fields' order; None when a field needs the instance. Each readable field's source
    must be a column, by its name (not a relation's: the instance gives the related object,
    a row its key) or by its attname (`parent_manifest_id`); a file column only for a field
    that says it shows a stored name as it shows the file (`reads_stored_names`), since the
    instance gives a FieldFile and a row the name."""
    meta = getattr(serializer, "Meta", None)
    model = getattr(meta, "model", None)
    if model is None:
        return None
    columns = {}
    for model_field in model._meta.concrete_fields:
        if not model_field.is_relation:
            columns[model_field.name] = model_field
        columns[model_field.attname] = model_field
    shown = []
    for field in serializer._readable_fields:
        model_field = columns.get(field.source)
        if model_field is None or len(field.source_attrs) != 1 or isinstance(field, CONTEXT_BOUND):
            return None
        if isinstance(model_field, models.FileField) and not getattr(
            field, "reads_stored_names", False
        ):
            return None
        shown.append(field.source)
    return shown


# Columns of a serializer class's rows (None: it reads instances), made once per class.
_row_columns: dict[type, list[str] | None] = {}


class FastReads:
    """Serializer mixin: the representation DRF's `Serializer.to_representation` gives,
    computed from a plan of the serializer's own fields (`templates_of`). Made once per
    class when every field's representation is context-free (then the fields are not even
    built for a read), else once per instance; bound to the request's context once per
    instance."""

    _read_steps: list[Step] | None = None

    @classmethod
    def read_templates(cls) -> list[Template] | None:
        """The plan every instance of this class shares, or None when there is none."""
        try:
            return _shared_templates[cls]
        except KeyError:
            templates, shared = templates_of(cls())
            _shared_templates[cls] = templates if shared else None
            return _shared_templates[cls]

    @classmethod
    def read_rows(cls, queryset: models.QuerySet, also: Iterable[str] = ()) -> models.QuerySet:
        """`queryset` answering rows for reads: named tuples of the columns this serializer
        shows (and `also`: those a paginator or an ordering reads, such as `created_at`),
        with no model instance built; the same values and the same query otherwise (the
        database converts them as for an instance). Filters, ordering, counting and slicing
        work on it as on `queryset`. Unchanged when a field needs the instance
        (`row_columns`)."""
        try:
            columns = _row_columns[cls]
        except KeyError:
            columns = _row_columns[cls] = row_columns(cls())
        if columns is None or cls.read_templates() is None:  # no plan: DRF's fields read it
            return queryset
        extra = [name for name in dict.fromkeys(also) if name not in columns]
        return queryset.values_list(*columns, *extra, named=True)

    def to_representation(self, instance):
        steps = self._read_steps
        if steps is None:
            templates = self.read_templates()
            if templates is None:
                templates, _ = templates_of(self)
            steps = self._read_steps = bind(templates, self.context)
        return represent_row(steps, instance)
