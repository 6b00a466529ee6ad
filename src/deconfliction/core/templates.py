"""Structured message templates: typed fields in, one rendering per recipient's language out.

A party sends ``template_id`` plus field values; the hub validates them once (:meth:`TemplateCatalog.validate`)
and every recipient reads the message in its own language (:meth:`TemplateCatalog.render`). The data lives in
``deconfliction/templates/`` and is read by ``channel/templates.py``; this module only checks and applies it.

``catalog.json``
    ``enums``: named lists of values. ``templates``: per id, ``fields`` in display order, each with a ``type`` and
    ``required`` (true/false), and ``ordered``: pairs of fields whose first may not be after (above) the second.
    Types: ``string`` (``max_length``; ``multiline`` allows line breaks), ``integer`` and ``number`` (optional
    ``min``/``max``; numbers render with ``decimals``, default 0), ``datetime`` (RFC 3339 with an offset, kept in
    UTC, rendered ``2026-11-22 14:05Z``), ``lat`` and ``lon`` (decimal degrees, rendered to ``decimals`` places,
    default 5, with hemisphere labels), ``enum`` (``enum`` names a list of values).

``<lang>.json``
    ``direction`` (``ltr``/``rtl``), ``format`` (decimal separator, hemisphere labels N/S/E/W), ``enums`` (a
    translation of every value) and, per template, a ``title`` and a ``body``: ``str.format`` strings with plain
    ``{field}`` placeholders (``{{``/``}}`` for literal braces; no conversions or format specs).

Optional fields. In a title or body, an optional field's placeholder stands for its entry under the template's
``optional`` map, e.g. ``"remarks": {"present": "\\nRemarks: {remarks}", "absent": ""}``: ``present`` (which must
contain the field) is used when the field is given, ``absent`` (which may only use required fields) otherwise. So
a missing field drops its whole line, label included, or says what its absence means ("valid until further
notice"); no rendering ever shows an empty label or "None".

:meth:`TemplateCatalog.from_data` refuses (``ValueError``) data in which any language fails to convey every field of
every template, uses an unknown placeholder, or leaves an enum value untranslated: a bad data file fails when it is
loaded (and in the unit tests), never half-way through rendering a warning. Sender text is rendered verbatim, never
re-parsed as a format string; control characters and bidirectional overrides are refused, and the continuation lines
of multi-line text are indented, so that a sender's text can neither forge a line of the template nor display
differently from what was sent.
"""

from __future__ import annotations

import difflib
import math
import re
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, NoReturn

from deconfliction.core.disclosure import iso_z
from deconfliction.core.errors import InvalidInput

LANGUAGES: tuple[str, ...] = ("en", "ru", "ar", "fr", "uk")
FIELD_TYPES = ("string", "integer", "number", "datetime", "lat", "lon", "enum")

_OPTIONS = {
    "string": {"max_length", "multiline"},
    "integer": {"min", "max"},
    "number": {"min", "max", "decimals"},
    "datetime": set(),
    "lat": {"decimals"},
    "lon": {"decimals"},
    "enum": {"enum"},
}
_RANGES = {"lat": (-90.0, 90.0), "lon": (-180.0, 180.0)}
_NUMERIC = {"integer", "number", "lat", "lon"}
_IDENT = re.compile(r"[a-z][a-z0-9_]*\Z")
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})\Z"
)
# Embeddings, overrides and isolates reorder the text around them: refused so a message displays as sent.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_SEPARATORS = frozenset("\u2028\u2029")
_DATETIME_EXAMPLE = "2026-11-22T14:05:00Z"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    type: str
    required: bool
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    decimals: int = 0
    multiline: bool = False
    enum: str | None = None
    values: tuple[str, ...] = ()  # the enum's values


@dataclass(frozen=True, slots=True)
class TemplateSpec:
    id: str
    description: str
    fields: tuple[FieldSpec, ...]
    ordered: tuple[tuple[str, str], ...] = ()

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


@dataclass(frozen=True, slots=True)
class OptionalText:
    present: str
    absent: str


@dataclass(frozen=True, slots=True)
class Rendering:
    title: str
    body: str
    optional: Mapping[str, OptionalText]


@dataclass(frozen=True, slots=True)
class Language:
    code: str
    name: str
    direction: str
    decimal_separator: str
    hemispheres: Mapping[str, str]
    enums: Mapping[str, Mapping[str, str]]
    templates: Mapping[str, Rendering]


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    title: str
    body: str
    lang: str
    direction: str = "ltr"


@dataclass(frozen=True, slots=True)
class TemplateCatalog:
    templates: Mapping[str, TemplateSpec]
    renderings: Mapping[str, Language]
    enums: Mapping[str, tuple[str, ...]]  # the catalog's named value lists, in its order

    @classmethod
    def from_data(cls, catalog: Mapping[str, Any], renderings: Mapping[str, Mapping[str, Any]]) -> TemplateCatalog:
        """Build from the parsed JSON of ``catalog.json`` and of each ``<lang>.json``, keyed by language code.

        Raises ``ValueError`` naming the file and key when the data is inconsistent.
        """
        cat = _obj(catalog, "catalog")
        enums = {
            name: _enum_values(v, f"catalog.enums.{name}") for name, v in _obj(cat.get("enums", {}), "enums").items()
        }
        templates = {
            tid: _template(tid, spec, enums) for tid, spec in _obj(cat.get("templates"), "catalog.templates").items()
        }
        if not templates:
            _bad("catalog.templates", "no templates")
        if not renderings:
            _bad("renderings", "no languages")
        languages = {code: _language(code, data, templates, enums) for code, data in renderings.items()}
        return cls(MappingProxyType(templates), MappingProxyType(languages), MappingProxyType(enums))

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.renderings)

    def template_ids(self) -> tuple[str, ...]:
        return tuple(self.templates)

    def describe(self) -> dict[str, Any]:
        """JSON-ready: the languages, each named value list with its label in every language (what a client shows
        for a site category, a conflict kind, a precedence), and each template's fields in the shape of
        ``catalog.json``."""
        return {
            "languages": [{"code": x.code, "name": x.name, "direction": x.direction} for x in self.renderings.values()],
            "enums": {
                name: {
                    "values": list(values),
                    "labels": {code: {v: x.enums[name][v] for v in values} for code, x in self.renderings.items()},
                }
                for name, values in self.enums.items()
            },
            "templates": {
                t.id: {
                    "description": t.description,
                    "fields": {f.name: _field_public(f) for f in t.fields},
                    "ordered": [list(pair) for pair in t.ordered],
                }
                for t in self.templates.values()
            },
        }

    def template(self, template_id: str) -> TemplateSpec:
        """The template's fields; raises :class:`InvalidInput` for an unknown id."""
        spec = self.templates.get(template_id) if isinstance(template_id, str) else None
        if spec is None:
            allowed = list(self.templates)
            raise InvalidInput(
                f"Unknown template {template_id!r}{_did_you_mean(template_id, allowed)}; use one of "
                f"{', '.join(allowed)}.",
                {"field": "template", "template": template_id, "allowed": allowed},
            )
        return spec

    def validate(self, template_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Check field values against the template; return them normalised and JSON-ready, in template order.

        Strings are stripped, numbers become floats, datetimes RFC 3339 UTC strings; absent optional fields (None
        or blank) are left out. Raises :class:`InvalidInput` naming the field and what to fix.
        """
        spec = self.template(template_id)
        if not isinstance(fields, Mapping):
            raise InvalidInput(
                f"The fields of template {template_id!r} must be an object of field names to values, got "
                f"{_describe(fields)}.",
                {"field": "fields", "template": template_id},
            )
        names = spec.field_names
        for name in fields:
            if name not in names:
                raise InvalidInput(
                    f"Template {template_id!r} has no field {name!r}{_did_you_mean(name, names)}; its fields are "
                    f"{', '.join(names)}.",
                    {"field": name, "template": template_id, "allowed": list(names)},
                )
        out: dict[str, Any] = {}
        for f in spec.fields:
            value = fields.get(f.name)
            if value is None or (isinstance(value, str) and not value.strip()):
                if f.required:
                    _invalid(spec, f, f"is required; give {_expects(f)}.")
                continue
            out[f.name] = _normalise(spec, f, value)
        for first, second in spec.ordered:
            a, b = out.get(first), out.get(second)
            if a is not None and b is not None and _comparable(a) > _comparable(b):
                word = "later than" if isinstance(a, str) else "greater than"
                raise InvalidInput(
                    f"Fields {first!r} and {second!r} of template {spec.id!r} are reversed: {first} ({a}) is {word} "
                    f"{second} ({b}); swap them.",
                    {"field": first, "template": spec.id, "after": second},
                )
        return out

    def render(self, template_id: str, fields: Mapping[str, Any], lang: str) -> RenderedMessage:
        """Validate ``fields`` and render the message in ``lang``; raises :class:`InvalidInput` on bad input."""
        language = self.renderings.get(lang) if isinstance(lang, str) else None
        if language is None:
            raise InvalidInput(
                f"Language {lang!r} is not supported; use one of {', '.join(self.renderings)}.",
                {"field": "lang", "lang": lang, "allowed": list(self.renderings)},
            )
        spec = self.template(template_id)
        values = self.validate(template_id, fields)
        text = {f.name: _localise(f, values[f.name], language) for f in spec.fields if f.name in values}
        rendering = language.templates[template_id]
        slots = dict(text)
        for name, opt in rendering.optional.items():
            slots[name] = (opt.present if name in values else opt.absent).format_map(text)
        return RenderedMessage(
            rendering.title.format_map(slots), rendering.body.format_map(slots), language.code, language.direction
        )


def _field_public(f: FieldSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"type": f.type, "required": f.required}
    extras = {"max_length": f.max_length, "min": f.minimum, "max": f.maximum, "values": list(f.values) or None}
    out.update({k: v for k, v in extras.items() if v is not None})
    if f.type == "string":
        out["multiline"] = f.multiline
    if f.type in _RANGES:
        out["min"], out["max"] = _RANGES[f.type]
    return out


# --- validating field values ----------------------------------------------------------------------------------


def _invalid(spec: TemplateSpec, f: FieldSpec, what: str, **details: Any) -> NoReturn:
    raise InvalidInput(
        f"Field {f.name!r} of template {spec.id!r} {what}", {"field": f.name, "template": spec.id, **details}
    )


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)}"
    if isinstance(value, Mapping):
        return "an object"
    text = f"the number {value}" if isinstance(value, (int, float)) else f"{type(value).__name__} {value!r}"
    return text if len(text) <= 80 else text[:79] + "…"


def _did_you_mean(value: Any, allowed: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(value, allowed, n=1) if isinstance(value, str) else []
    return f" (did you mean {close[0]!r}?)" if close else ""


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _span(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" from {_num(low)} to {_num(high)}"
    if low is not None:
        return f" of at least {_num(low)}"
    return f" of at most {_num(high)}" if high is not None else ""


def _expects(f: FieldSpec) -> str:
    if f.type == "string":
        return f"a text of at most {f.max_length} characters" + ("" if f.multiline else " on one line")
    if f.type == "integer":
        return "a whole number" + _span(f.minimum, f.maximum)
    if f.type == "number":
        return "a number" + _span(f.minimum, f.maximum)
    if f.type == "lat":
        return "a latitude in decimal degrees from -90 (south) to 90 (north)"
    if f.type == "lon":
        return "a longitude in decimal degrees from -180 (west) to 180 (east)"
    if f.type == "datetime":
        return f"an RFC 3339 date-time with a time zone, such as {_DATETIME_EXAMPLE}"
    return f"one of {', '.join(f.values)}"


def _normalise(spec: TemplateSpec, f: FieldSpec, value: Any) -> Any:
    if f.type == "string":
        return _string(spec, f, value)
    if f.type == "datetime":
        return _datetime(spec, f, value)
    if f.type == "enum":
        if not isinstance(value, str) or value not in f.values:
            shown = repr(value) if isinstance(value, str) else _describe(value)
            hint = _did_you_mean(value, f.values)
            _invalid(spec, f, f"is {shown}{hint}, not a known value; use one of {', '.join(f.values)}.")
        return value
    return _number(spec, f, value)


def _string(spec: TemplateSpec, f: FieldSpec, value: Any) -> str:
    if not isinstance(value, str):
        _invalid(spec, f, f"must be {_expects(f)}, got {_describe(value)}.")
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip() if f.multiline else value.strip()
    for i, ch in enumerate(text):
        if ch == "\n" and f.multiline:
            continue
        if ch == "\n":
            _invalid(spec, f, "is a single line; remove the line break.", position=i)
        if unicodedata.category(ch) == "Cc" or ch in _LINE_SEPARATORS:
            _invalid(spec, f, f"contains the control character U+{ord(ch):04X} at position {i}; remove it.", position=i)
        if ch in _BIDI_CONTROLS:
            _invalid(
                spec,
                f,
                f"contains the bidirectional formatting character U+{ord(ch):04X} at position {i}, which would make "
                "the message display differently from what was sent; remove it.",
                position=i,
            )
    if f.max_length is not None and len(text) > f.max_length:
        _invalid(spec, f, f"is {len(text)} characters long; shorten it to at most {f.max_length}.")
    return text


def _number(spec: TemplateSpec, f: FieldSpec, value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _invalid(spec, f, f"must be {_expects(f)}, got {_describe(value)}.")
    if isinstance(value, float) and not math.isfinite(value):
        _invalid(spec, f, f"must be {_expects(f)}, got {value}.")
    if f.type == "integer" and isinstance(value, float):
        if not value.is_integer():
            _invalid(spec, f, f"must be {_expects(f)}, got {value}.")
        value = int(value)
    low, high = _RANGES.get(f.type, (f.minimum, f.maximum))
    if (low is not None and value < low) or (high is not None and value > high):
        shown = f"{value:g}" if isinstance(value, float) else _describe(value).removeprefix("the number ")
        _invalid(spec, f, f"is {shown}, out of range; give {_expects(f)}.", minimum=low, maximum=high)
    if f.type == "integer":
        return int(value)
    try:
        return float(value) + 0.0  # + 0.0 turns -0.0 into 0.0
    except OverflowError:
        _invalid(spec, f, f"is too large; give {_expects(f)}.")


def _datetime(spec: TemplateSpec, f: FieldSpec, value: Any) -> str:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        text = value.strip()
        if not _RFC3339.match(text):
            hint = "add a time zone: Z for UTC or an offset such as +02:00" if re.match(r".*:[0-9]{2}\Z", text) else ""
            _invalid(
                spec, f, f"is {text!r}, not an RFC 3339 date-time; {hint or f'write it like {_DATETIME_EXAMPLE}'}."
            )
        try:
            dt = datetime.fromisoformat(text.upper().replace(" ", "T"))
        except ValueError as exc:
            _invalid(spec, f, f"is {text!r}, not a valid date-time ({exc}); write it like {_DATETIME_EXAMPLE}.")
    else:
        _invalid(spec, f, f"must be {_expects(f)}, got {_describe(value)}.")
    if dt.utcoffset() is None:
        _invalid(spec, f, "has no time zone; give it in UTC, such as " + _DATETIME_EXAMPLE + ".")
    try:
        return iso_z(dt.astimezone(UTC))
    except OverflowError:
        _invalid(
            spec, f, f"is out of the supported range of years 1 to 9999 in UTC; write it like {_DATETIME_EXAMPLE}."
        )


def _comparable(value: Any) -> Any:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


# --- rendering ------------------------------------------------------------------------------------------------


def _decimal(value: float, decimals: int, separator: str) -> str:
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return ("0" if text == "-0" else text).replace(".", separator)


def _localise(f: FieldSpec, value: Any, language: Language) -> str:
    if f.type in ("lat", "lon"):
        digits = _decimal(abs(value), f.decimals, language.decimal_separator)
        positive = value >= 0 or digits == "0"
        hemisphere = ("N" if positive else "S") if f.type == "lat" else ("E" if positive else "W")
        return f"{digits}° {language.hemispheres[hemisphere]}"
    if f.type == "number":
        return _decimal(value, f.decimals, language.decimal_separator)
    if f.type == "datetime":
        dt = datetime.fromisoformat(value)
        return f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d} {dt.hour:02d}:{dt.minute:02d}Z"
    if f.type == "enum":
        return language.enums[f.enum or ""][value]
    if f.type == "string" and f.multiline:
        # Indented continuation lines cannot pass for one of the template's own "Label: value" lines.
        return str(value).replace("\n", "\n    ")
    return str(value)


# --- checking the data ----------------------------------------------------------------------------------------


def _bad(where: str, what: str) -> NoReturn:
    raise ValueError(f"template data, {where}: {what}")


def _obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        _bad(where, f"expected an object, got {_describe(value)}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        _bad(where, f"expected a non-empty string, got {_describe(value)}")
    return value


def _enum_values(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        _bad(where, "expected a non-empty list of values")
    values = tuple(_text(v, where) for v in value)
    if len(set(values)) != len(values):
        _bad(where, "a value is listed twice")
    return values


def _bound(spec: Mapping[str, Any], key: str, where: str) -> float | None:
    v = spec.get(key)
    if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
        _bad(f"{where}.{key}", "expected a finite number")
    return v


def _field(name: str, spec: Any, where: str, enums: Mapping[str, tuple[str, ...]]) -> FieldSpec:
    if not _IDENT.match(name):
        _bad(where, "field names are lower-case identifiers ([a-z][a-z0-9_]*)")
    spec = _obj(spec, where)
    type_ = spec.get("type")
    if type_ not in _OPTIONS:
        _bad(f"{where}.type", f"{type_!r} is not one of {', '.join(FIELD_TYPES)}")
    unknown = set(spec) - _OPTIONS[type_] - {"type", "required"}
    if unknown:
        _bad(where, f"unknown key(s) {', '.join(sorted(unknown))} for a {type_} field")
    if not isinstance(spec.get("required"), bool):
        _bad(f"{where}.required", "expected true or false")
    low, high = _bound(spec, "min", where), _bound(spec, "max", where)
    if low is not None and high is not None and low > high:
        _bad(where, "min is above max")
    max_length, decimals, enum = (
        spec.get("max_length"),
        spec.get("decimals", 5 if type_ in _RANGES else 0),
        spec.get("enum"),
    )
    if type_ == "string" and (isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1):
        _bad(f"{where}.max_length", "a string field needs a positive integer max_length")
    if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 9:
        _bad(f"{where}.decimals", "expected an integer from 0 to 9")
    if not isinstance(spec.get("multiline", False), bool):
        _bad(f"{where}.multiline", "expected true or false")
    if type_ == "enum" and enum not in enums:
        _bad(f"{where}.enum", f"{enum!r} is not one of the catalog's enums ({', '.join(enums)})")
    return FieldSpec(
        name=name,
        type=type_,
        required=spec["required"],
        max_length=max_length,
        minimum=low,
        maximum=high,
        decimals=decimals,
        multiline=spec.get("multiline", False),
        enum=enum,
        values=enums[enum] if type_ == "enum" else (),
    )


def _template(tid: str, spec: Any, enums: Mapping[str, tuple[str, ...]]) -> TemplateSpec:
    where = f"catalog.templates.{tid}"
    if not _IDENT.match(tid):
        _bad(where, "template ids are lower-case identifiers ([a-z][a-z0-9_]*)")
    spec = _obj(spec, where)
    fields = tuple(_field(n, s, f"{where}.fields.{n}", enums) for n, s in _obj(spec.get("fields"), where).items())
    if not fields:
        _bad(f"{where}.fields", "a template needs at least one field")
    kinds = {f.name: ("numeric" if f.type in _NUMERIC else f.type) for f in fields}
    ordered: list[tuple[str, str]] = []
    for pair in spec.get("ordered", []):
        if not isinstance(pair, list) or len(pair) != 2 or not all(p in kinds for p in pair):
            _bad(f"{where}.ordered", f"{pair!r} is not a pair of the template's fields")
        if kinds[pair[0]] != kinds[pair[1]] or kinds[pair[0]] not in ("numeric", "datetime"):
            _bad(f"{where}.ordered", f"{pair!r}: only two numbers or two datetimes can be ordered")
        ordered.append((pair[0], pair[1]))
    return TemplateSpec(tid, str(spec.get("description", "")), fields, tuple(ordered))


def _placeholders(text: str, where: str) -> set[str]:
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        _bad(where, f"{exc} (write {{{{ and }}}} for literal braces)")
    names: set[str] = set()
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not _IDENT.match(name) or spec or conversion:
            _bad(where, f"placeholder {{{name}}} must be a plain {{field}}, without conversion or format spec")
        names.add(name)
    return names


def _rendering(where: str, data: Any, spec: TemplateSpec) -> Rendering:
    data = _obj(data, where)
    title, body = _text(data.get("title"), f"{where}.title"), _text(data.get("body"), f"{where}.body")
    used = _placeholders(title, f"{where}.title") | _placeholders(body, f"{where}.body")
    required = {f.name for f in spec.fields if f.required}
    optional_fields = set(spec.field_names) - required
    if used - set(spec.field_names):
        _bad(where, f"unknown placeholder(s) {', '.join(sorted(used - set(spec.field_names)))}")
    if set(spec.field_names) - used:
        _bad(where, f"field(s) {', '.join(sorted(set(spec.field_names) - used))} are never shown")
    optional: dict[str, OptionalText] = {}
    entries = _obj(data.get("optional", {}), f"{where}.optional")
    for name in sorted(optional_fields | set(entries)):
        at = f"{where}.optional.{name}"
        if name not in optional_fields:
            _bad(at, "only optional fields take an optional entry")
        if name not in entries:
            _bad(at, f'optional field {name} needs an entry {{"present": "...", "absent": "..."}}')
        entry = _obj(entries[name], at)
        present, absent = entry.get("present"), entry.get("absent")
        if not isinstance(present, str) or not isinstance(absent, str) or set(entry) != {"present", "absent"}:
            _bad(at, 'expected {"present": "...", "absent": "..."} (absent may be "")')
        if name not in _placeholders(present, f"{at}.present") or _placeholders(present, at) - required - {name}:
            _bad(f"{at}.present", f"must contain {{{name}}} and otherwise only required fields")
        if _placeholders(absent, f"{at}.absent") - required:
            _bad(f"{at}.absent", "may only contain required fields")
        optional[name] = OptionalText(present, absent)
    return Rendering(title, body, MappingProxyType(optional))


def _language(
    code: str, data: Any, templates: Mapping[str, TemplateSpec], enums: Mapping[str, tuple[str, ...]]
) -> Language:
    where = f"{code}.json"
    data = _obj(data, where)
    if data.get("language", code) != code:
        _bad(f"{where}.language", f"says {data.get('language')!r}, expected {code!r}")
    direction = data.get("direction", "ltr")
    if direction not in ("ltr", "rtl"):
        _bad(f"{where}.direction", "expected ltr or rtl")
    fmt = _obj(data.get("format"), f"{where}.format")
    hemispheres = _obj(fmt.get("hemispheres"), f"{where}.format.hemispheres")
    if set(hemispheres) != {"N", "S", "E", "W"}:
        _bad(f"{where}.format.hemispheres", "expected labels for exactly N, S, E and W")
    translated = _obj(data.get("enums", {}), f"{where}.enums")
    out_enums: dict[str, Mapping[str, str]] = {}
    for name, values in enums.items():
        table = _obj(translated.get(name), f"{where}.enums.{name}")
        if set(table) != set(values):
            missing, extra = sorted(set(values) - set(table)), sorted(set(table) - set(values))
            _bad(f"{where}.enums.{name}", f"untranslated: {missing or 'none'}; unknown values: {extra or 'none'}")
        out_enums[name] = MappingProxyType({v: _text(table[v], f"{where}.enums.{name}.{v}") for v in values})
    if set(translated) - set(enums):
        _bad(f"{where}.enums", f"unknown enum(s) {', '.join(sorted(set(translated) - set(enums)))}")
    rendered = _obj(data.get("templates"), f"{where}.templates")
    if set(rendered) != set(templates):
        missing, extra = sorted(set(templates) - set(rendered)), sorted(set(rendered) - set(templates))
        _bad(f"{where}.templates", f"missing: {missing or 'none'}; unknown: {extra or 'none'}")
    return Language(
        code=code,
        name=_text(data.get("name", code), f"{where}.name"),
        direction=direction,
        decimal_separator=_text(fmt.get("decimal_separator"), f"{where}.format.decimal_separator"),
        hemispheres=MappingProxyType({k: _text(v, f"{where}.format.hemispheres.{k}") for k, v in hemispheres.items()}),
        enums=MappingProxyType(out_enums),
        templates=MappingProxyType(
            {tid: _rendering(f"{where}.templates.{tid}", rendered[tid], spec) for tid, spec in templates.items()}
        ),
    )
