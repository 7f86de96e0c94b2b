"""Activities to and from the Bot Connector's JSON, without msrest's generic machinery.

msrest's `Model.serialize()` and `Model.deserialize()` walk every attribute through its
type machinery (about half a millisecond for a reply, a third for an inbound activity).
The activities Teams sends and Send writes hold strings, numbers, booleans, dates, nested
models and JSON content (cards, channel data), which the models' own attribute maps name
exactly: those are read and written here, by the same maps, to the same result. Anything
else (a value not of its declared type, flattened keys, a model not expected) is left to
msrest, which decides as before (coerces, or refuses).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, TypeVar, cast

from botbuilder.schema import Activity
from msrest.serialization import Model

M = TypeVar("M", bound=Model)

_PLAIN = frozenset({"str", "bool", "int", "float", "[str]"})
_JSON = (str, int, float, bool, type(None))


class _NotPlain(Exception):
    """A value this module does not write; msrest does."""


def activity_json(model: Model) -> dict[str, Any]:
    """`model.serialize()`'s result, made cheaply when the model holds plain values."""
    try:
        return _plain(model)
    except _NotPlain:
        result: dict[str, Any] = model.serialize()  # type: ignore[no-untyped-call]
        return result


def _plain(model: Model) -> dict[str, Any]:
    attributes: dict[str, dict[str, Any]] = model._attribute_map
    out: dict[str, Any] = {}
    for name, value in vars(model).items():
        if value is None:
            continue
        if name == "additional_properties":
            if value and "additional_properties" in attributes:
                raise _NotPlain  # a model that writes them: msrest's own way
            continue  # msrest writes none (Teams' "tenantId" beside a conversation's "tenantID")
        if name in model._validation:
            raise _NotPlain  # required or read-only: msrest's rules
        spec = attributes.get(name)
        if spec is None or "." in spec["key"]:
            raise _NotPlain
        out[spec["key"]] = _value(spec["type"], value)
    return out


def _value(kind: str, value: Any) -> Any:
    if kind in _PLAIN:
        return value
    if kind in ("object", "{object}"):
        # A card as a dict is written as it is; a card model (a hero card) by its own map.
        return _plain(value) if isinstance(value, Model) else _checked(value)
    if kind.startswith("[") and isinstance(value, list):
        return [_value(kind[1:-1], item) for item in value]
    if isinstance(value, Model) and type(value).__name__ == kind:
        return _plain(value)
    raise _NotPlain


def _checked(value: Any) -> Any:
    """`value` itself, if it is JSON all the way down."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _NotPlain
            _checked(item)
    elif isinstance(value, list):
        for item in value:
            _checked(item)
    elif not isinstance(value, _JSON):
        raise _NotPlain
    return value


def activity_from_json(body: dict[str, Any]) -> Activity:
    """`Activity().deserialize(body)`'s result, made cheaply when every value has its
    declared type. Raises what msrest raises for a malformed activity."""
    try:
        return _model(Activity, body)
    except _NotPlain:
        activity: Activity = Activity().deserialize(body)
        return activity


@cache
def _fields(cls: type[Model]) -> dict[str, tuple[str, str]]:
    """JSON key -> (attribute, declared type), from the model's own attribute map."""
    attributes: dict[str, dict[str, Any]] = cls._attribute_map
    return {spec["key"]: (name, spec["type"]) for name, spec in attributes.items() if spec["key"]}


@cache
def _models() -> dict[str, type[Model]]:
    found: dict[str, type[Model]] = Activity._infer_class_models()
    return found


def _model(cls: type[M], data: Any) -> M:
    if not isinstance(data, dict):
        raise _NotPlain
    fields = _fields(cast(Any, cls))  # a class is hashable (its instances define __eq__)
    known: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        field = fields.get(key)
        if field is None:
            extra[key] = value  # msrest keeps unknown keys as additional properties
        elif value is not None:
            known[field[0]] = _read(field[1], value)
    made = cls(**known)
    made.additional_properties = extra
    return made


def _read(kind: str, value: Any) -> Any:
    if kind == "str":
        if not isinstance(value, str):
            raise _NotPlain
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise _NotPlain
        return value
    if kind in ("object", "{object}"):
        return value  # parsed JSON: JSON all the way down already
    if kind == "iso-8601":
        return _moment(value)
    if kind.startswith("["):
        if not isinstance(value, list):
            raise _NotPlain
        return [_read(kind[1:-1], item) for item in value]
    model = _models().get(kind)
    if model is None:
        raise _NotPlain
    return _model(model, value)


def _moment(value: Any) -> datetime:
    if not isinstance(value, str):
        raise _NotPlain
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _NotPlain from None
    if moment.tzinfo is None:
        raise _NotPlain  # msrest's reading of a time without a zone is its own
    return moment
