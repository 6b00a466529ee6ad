"""Message templates: the shipped data is consistent, every template renders in every language, bad fields are
refused with a message that names the field and says what to fix."""

from __future__ import annotations

import copy
import json
import math
import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.channel.templates import load_catalog
from deconfliction.core.errors import InvalidInput
from deconfliction.core.templates import LANGUAGES, FieldSpec, TemplateCatalog, TemplateSpec

CATALOG = load_catalog()
T0 = datetime(2026, 11, 22, 14, 5, tzinfo=UTC)
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
EXPECTED_FIELDS = {
    "activity_notice": (
        "activity_kind",
        "area_description",
        "lat",
        "lon",
        "radius_m",
        "altitude_lower_m",
        "altitude_upper_m",
        "start",
        "end",
        "remarks",
    ),
    "clarification_request": ("about_ref", "question"),
    "close_approach_warning": (
        "callsign",
        "lat",
        "lon",
        "closest_approach_at",
        "minimum_distance_m",
        "vertical_separation_m",
    ),
    "line_test": ("test_id", "sent_at"),
    "conflict_notice": ("conflict_id", "kind", "overlap_start", "overlap_end", "altitude_lower_m", "altitude_upper_m"),
    "escalation_notice": ("notice_id", "priority", "deadline", "step"),
    "site_notice": ("name", "category", "lat", "lon", "valid_from", "valid_to"),
}


def raw_data() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    folder = resources.files("deconfliction").joinpath("templates")
    catalog = json.loads(folder.joinpath("catalog.json").read_text("utf-8"))
    return catalog, {lang: json.loads(folder.joinpath(f"{lang}.json").read_text("utf-8")) for lang in LANGUAGES}


def sample_value(f: FieldSpec, i: int) -> Any:
    """A valid value; datetimes grow with the field's position, so ordered pairs (start, end) come out in order."""
    if f.type == "string":
        return f"{f.name.upper()}-text"
    if f.type == "integer":
        return int(f.minimum or 0) + 1
    if f.type == "number":
        return (f.minimum or 0) + 12.5 if f.maximum is None or f.maximum >= (f.minimum or 0) + 12.5 else f.minimum
    if f.type == "lat":
        return 48.51234
    if f.type == "lon":
        return -35.0421
    if f.type == "datetime":
        return (T0 + timedelta(hours=i)).isoformat()
    return f.values[-1]


def sample(spec: TemplateSpec, required_only: bool = False) -> dict[str, Any]:
    return {f.name: sample_value(f, i) for i, f in enumerate(spec.fields) if f.required or not required_only}


def assert_clean(text: str) -> None:
    assert text and text.strip() == text, repr(text)
    assert not PLACEHOLDER.search(text), f"leftover placeholder in {text!r}"
    assert "None" not in text and "\n\n" not in text and "  " not in text, repr(text)


# --- the shipped data ------------------------------------------------------------------------------------------


def test_the_shipped_data_is_consistent_and_complete() -> None:
    assert CATALOG.languages == LANGUAGES == ("en", "ru", "ar", "fr", "uk")
    assert {t: CATALOG.template(t).field_names for t in CATALOG.template_ids()} == EXPECTED_FIELDS
    catalog, renderings = raw_data()
    assert TemplateCatalog.from_data(catalog, renderings) == CATALOG
    assert load_catalog() is CATALOG  # cached


def test_only_the_documented_fields_are_optional() -> None:
    optional = {(t.id, f.name) for t in CATALOG.templates.values() for f in t.fields if not f.required}
    assert optional == {
        ("activity_notice", "remarks"),
        ("close_approach_warning", "callsign"),
        ("site_notice", "valid_to"),
    }


def test_describe_is_json_and_lists_every_template_and_language() -> None:
    described = json.loads(json.dumps(CATALOG.describe()))
    assert [x["code"] for x in described["languages"]] == list(LANGUAGES)
    assert {x["code"]: x["direction"] for x in described["languages"]}["ar"] == "rtl"
    assert list(described["templates"]) == list(CATALOG.template_ids())
    lat = described["templates"]["site_notice"]["fields"]["lat"]
    assert lat == {"type": "lat", "required": True, "min": -90.0, "max": 90.0}
    assert "hospital" in described["templates"]["site_notice"]["fields"]["category"]["values"]
    categories = described["enums"]["site_category"]
    assert categories["values"] == described["templates"]["site_notice"]["fields"]["category"]["values"]
    assert set(categories["labels"]) == set(LANGUAGES)
    assert all(list(labels) == categories["values"] for labels in categories["labels"].values())
    assert categories["labels"]["ru"]["hospital"] == "Больница"
    assert categories["labels"]["en"]["deconfliction-line"] == "Deconfliction line"


# --- rendering -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("template_id", CATALOG.template_ids())
def test_every_template_renders_in_every_language_with_every_field(template_id: str, lang: str) -> None:
    spec = CATALOG.template(template_id)
    fields = sample(spec)
    message = CATALOG.render(template_id, fields, lang)
    assert message.lang == lang and message.title and message.body
    text = f"{message.title}\n{message.body}"
    for part in (message.title, message.body):
        assert_clean(part)
    for i, f in enumerate(spec.fields):
        if f.type == "string":
            assert fields[f.name] in text
        if f.type == "enum":
            assert CATALOG.renderings[lang].enums[f.enum or ""][fields[f.name]] in text
        if f.type == "datetime":
            assert f"{T0 + timedelta(hours=i):%Y-%m-%d %H:%M}Z" in text


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("template_id", CATALOG.template_ids())
def test_every_template_renders_with_only_its_required_fields(template_id: str, lang: str) -> None:
    spec = CATALOG.template(template_id)
    full = CATALOG.render(template_id, sample(spec), lang)
    message = CATALOG.render(template_id, sample(spec, required_only=True), lang)
    assert_clean(message.title)
    assert_clean(message.body)
    for f in spec.fields:
        if f.type == "string" and not f.required:
            assert f"{f.name.upper()}-text" not in message.body
    if any(not f.required for f in spec.fields):
        assert message.body != full.body


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_enum_value_renders_in_every_language(lang: str) -> None:
    for spec in CATALOG.templates.values():
        for f in spec.fields:
            for value in f.values:
                message = CATALOG.render(spec.id, {**sample(spec), f.name: value}, lang)
                assert CATALOG.renderings[lang].enums[f.enum or ""][value] in message.title + message.body


def test_optional_fields_drop_their_whole_line_or_say_what_absence_means() -> None:
    spec = CATALOG.template("close_approach_warning")
    with_callsign = CATALOG.render(spec.id, {**sample(spec), "callsign": "EAGLE 21"}, "en").body
    without = CATALOG.render(spec.id, sample(spec, required_only=True), "en").body
    assert with_callsign.startswith("Callsign: EAGLE 21\nPosition: 48.51234° N, 35.0421° W\n")
    assert without.startswith("Position: ") and "Callsign" not in without
    site = CATALOG.template("site_notice")
    assert CATALOG.render(site.id, sample(site, required_only=True), "ru").body.endswith(
        "Действует до особого распоряжения"
    )
    assert "Действует до: 2026-11-22 19:05Z" in CATALOG.render(site.id, sample(site), "ru").body


def test_numbers_and_coordinates_follow_the_language() -> None:
    fields = {**sample(CATALOG.template("activity_notice")), "lat": -0.5, "lon": 179.25, "radius_m": 1500}
    body = {lang: CATALOG.render("activity_notice", fields, lang).body for lang in LANGUAGES}
    assert "Centre: 0.5° S, 179.25° E\nRadius: 1500 m\n" in body["en"]
    assert "Центр: 0,5° ю. ш.; 179,25° в. д.\nРадиус: 1500 м\n" in body["ru"]
    assert "Центр: 0,5° пд. ш.; 179,25° сх. д.\nРадіус: 1500 м\n" in body["uk"]
    assert "Centre\u00a0: 0,5° S\u00a0; 179,25° E\nRayon\u00a0: 1500 m\n" in body["fr"]
    assert "المركز: 0.5° جنوباً، 179.25° شرقاً" in body["ar"]
    assert "-0" not in CATALOG.render("activity_notice", {**fields, "lat": -0.000001}, "en").body


def test_arabic_renders_right_to_left() -> None:
    spec = CATALOG.template("close_approach_warning")
    message = CATALOG.render(spec.id, {**sample(spec), "callsign": "EAGLE 21"}, "ar")
    assert message.direction == "rtl" and message.lang == "ar"
    assert message.title == "تحذير: اقتراب خطير وشيك"
    assert "رمز النداء: EAGLE 21" in message.body and "2026-11-22 17:05Z" in message.body
    assert sum(unicodedata.bidirectional(c) == "AL" for c in message.body) > 20
    assert all(CATALOG.render(spec.id, sample(spec), lang).direction == "ltr" for lang in LANGUAGES if lang != "ar")


def test_sender_text_is_rendered_verbatim_never_as_a_format_string() -> None:
    message = CATALOG.render("clarification_request", {"about_ref": "{lat} {0} {{x}}", "question": "Why?"}, "en")
    assert message.body == "Concerning: {lat} {0} {{x}}\nQuestion: Why?"


def test_multiline_text_cannot_forge_a_line_of_the_template() -> None:
    fields = {"about_ref": "op-7", "question": "Which altitude?\nQuestion: none, all clear"}
    message = CATALOG.render("clarification_request", fields, "en")
    assert message.body == "Concerning: op-7\nQuestion: Which altitude?\n    Question: none, all clear"


def test_unknown_language_lists_the_supported_ones() -> None:
    with pytest.raises(InvalidInput) as info:
        CATALOG.render("line_test", {"test_id": "T1", "sent_at": T0}, "de")
    assert "'de'" in info.value.message and "en, ru, ar, fr, uk" in info.value.message
    assert info.value.details == {"field": "lang", "lang": "de", "allowed": list(LANGUAGES)}


# --- validation ------------------------------------------------------------------------------------------------


def test_validate_normalises_values() -> None:
    fields = {
        "name": "  Al-Shifa Hospital ",
        "category": "hospital",
        "lat": 31,
        "lon": -0.0,
        "valid_from": "2026-11-22t16:05:00.5+02:00",
        "valid_to": "   ",
    }
    assert CATALOG.validate("site_notice", fields) == {
        "name": "Al-Shifa Hospital",
        "category": "hospital",
        "lat": 31.0,
        "lon": 0.0,
        "valid_from": "2026-11-22T14:05:00.500000Z",
    }
    assert CATALOG.validate("line_test", {"test_id": "T1", "sent_at": T0})["sent_at"] == "2026-11-22T14:05:00Z"
    assert (
        CATALOG.validate("escalation_notice", {**sample(CATALOG.template("escalation_notice")), "step": 3.0})["step"]
        == 3
    )
    question = CATALOG.validate("clarification_request", {"about_ref": "op-1", "question": "Line one\r\nline two"})
    assert question["question"] == "Line one\nline two"


CAW = sample(CATALOG.template("close_approach_warning"))
ACT = sample(CATALOG.template("activity_notice"))
CON = sample(CATALOG.template("conflict_notice"))
BAD = [
    # (template, fields, field named in details, words the message must contain)
    ("activity_notise", ACT, "template", ["Unknown template 'activity_notise'", "did you mean 'activity_notice'"]),
    ("close_approach_warning", {**CAW, "callsing": "X"}, "callsing", ["no field 'callsing'", "'callsign'"]),
    ("close_approach_warning", {**CAW, "lat": None}, "lat", ["'lat'", "is required", "latitude"]),
    ("line_test", {"sent_at": T0}, "test_id", ["'test_id'", "'line_test'", "is required"]),
    ("close_approach_warning", {**CAW, "minimum_distance_m": "12"}, "minimum_distance_m", ["must be a number", "str"]),
    ("close_approach_warning", {**CAW, "lat": True}, "lat", ["must be a latitude", "boolean true"]),
    ("close_approach_warning", {**CAW, "callsign": 21}, "callsign", ["must be a text", "the number 21"]),
    ("close_approach_warning", {**CAW, "lon": float("nan")}, "lon", ["must be a longitude"]),
    ("escalation_notice", {"notice_id": "n", "priority": "flash", "deadline": T0, "step": 2.5}, "step", ["whole"]),
    ("close_approach_warning", {**CAW, "lat": 91}, "lat", ["is 91, out of range", "-90 (south) to 90 (north)"]),
    ("close_approach_warning", {**CAW, "lon": -180.5}, "lon", ["is -180.5, out of range", "-180 (west)"]),
    ("activity_notice", {**ACT, "radius_m": -1}, "radius_m", ["is -1, out of range", "from 0 to 1000000"]),
    ("escalation_notice", {"notice_id": "n", "priority": "flash", "deadline": T0, "step": 0}, "step", ["from 1"]),
    ("activity_notice", {**ACT, "activity_kind": "artillery"}, "activity_kind", ["'artillery'", "artillery-fire"]),
    (
        "conflict_notice",
        {**CON, "kind": ["operation-site"]},
        "kind",
        ["a list of 1", "operation-operation, operation-site"],
    ),
    ("line_test", {"test_id": "T", "sent_at": "2026-13-01T00:00:00Z"}, "sent_at", ["not a valid date-time", "month"]),
    ("line_test", {"test_id": "T", "sent_at": "yesterday"}, "sent_at", ["not an RFC 3339", "2026-11-22T14:05:00Z"]),
    ("line_test", {"test_id": "T", "sent_at": "2026-11-22T14:05:00"}, "sent_at", ["time zone", "Z for UTC"]),
    ("line_test", {"test_id": "T", "sent_at": datetime(2026, 1, 1)}, "sent_at", ["has no time zone"]),
    ("line_test", {"test_id": "T", "sent_at": "0001-01-01T00:00:00+01:00"}, "sent_at", ["out of the supported"]),
    ("line_test", {"test_id": "T", "sent_at": 1764000000}, "sent_at", ["RFC 3339", "the number 1764000000"]),
    ("close_approach_warning", {**CAW, "callsign": "X" * 65}, "callsign", ["65 characters", "at most 64"]),
    ("close_approach_warning", {**CAW, "callsign": "A\nB"}, "callsign", ["single line", "line break"]),
    ("clarification_request", {"about_ref": "a\x07", "question": "q"}, "about_ref", ["U+0007", "remove it"]),
    ("clarification_request", {"about_ref": "a", "question": "q\u202eq"}, "question", ["U+202E", "bidirectional"]),
    ("activity_notice", {**ACT, "altitude_lower_m": 500, "altitude_upper_m": 100}, "altitude_lower_m", ["swap"]),
    ("activity_notice", {**ACT, "start": "2026-11-23T00:00:00Z"}, "start", ["reversed", "later than", "swap them"]),
]


@pytest.mark.parametrize(("template_id", "fields", "field", "words"), BAD)
def test_bad_fields_are_refused_with_a_message_that_says_what_to_fix(
    template_id: str, fields: dict[str, Any], field: str, words: list[str]
) -> None:
    with pytest.raises(InvalidInput) as info:
        CATALOG.validate(template_id, fields)
    assert info.value.details["field"] == field
    for word in words:
        assert word in info.value.message, info.value.message
    with pytest.raises(InvalidInput):  # render validates too, in every language
        CATALOG.render(template_id, fields, "ar")


def test_fields_must_be_an_object() -> None:
    with pytest.raises(InvalidInput, match="must be an object of field names to values, got a list of 0"):
        CATALOG.validate("line_test", [])  # type: ignore[arg-type]


# --- from_data refuses inconsistent data -----------------------------------------------------------------------


def _set(lang: str, path: str, value: Any) -> Any:
    def change(catalog: dict[str, Any], renderings: dict[str, dict[str, Any]]) -> None:
        node = catalog if lang == "catalog" else renderings[lang]
        *parents, last = path.split("/")
        for key in parents:
            node = node[key]
        if value is KeyError:
            del node[last]
        else:
            node[last] = value

    return change


BROKEN = [
    (_set("fr", "templates/line_test", KeyError), "fr.json.templates: missing: ['line_test']"),
    (_set("ru", "templates/line_test/body", "Номер: {test_id} {sent}"), "unknown placeholder(s) sent"),
    (_set("uk", "templates/line_test/body", "Номер: {test_id}"), "field(s) sent_at are never shown"),
    (_set("ar", "enums/precedence/flash", KeyError), "untranslated: ['flash']"),
    (_set("en", "enums/precedence/urgent", "Urgent"), "unknown values: ['urgent']"),
    (_set("en", "templates/line_test/title", "Line test {"), "Single '{'"),
    (_set("en", "templates/line_test/title", "Line test {test_id!r}"), "plain {field}"),
    (_set("en", "templates/line_test/title", "Line test {test_id:>9}"), "plain {field}"),
    (_set("en", "templates/site_notice/optional", {}), "optional field valid_to needs an entry"),
    (_set("en", "templates/site_notice/optional/name", {"present": "{name}", "absent": ""}), "only optional"),
    (_set("en", "templates/site_notice/optional/valid_to/absent", "{valid_to}"), "only contain required"),
    (_set("en", "templates/site_notice/optional/valid_to/present", "until"), "must contain {valid_to}"),
    (_set("en", "language", "fr"), "en.json.language: says 'fr'"),
    (_set("en", "direction", "up"), "expected ltr or rtl"),
    (_set("en", "format/hemispheres/W", KeyError), "exactly N, S, E and W"),
    (_set("catalog", "templates/line_test/fields/sent_at/type", "date"), "'date' is not one of string"),
    (_set("catalog", "templates/line_test/fields/test_id/maxlength", 9), "unknown key(s) maxlength"),
    (_set("catalog", "templates/line_test/fields/test_id/required", "yes"), "expected true or false"),
    (_set("catalog", "templates/site_notice/fields/category/enum", "site_kind"), "'site_kind' is not one of"),
    (_set("catalog", "templates/site_notice/ordered", [["name", "valid_to"]]), "only two numbers or two datetimes"),
    (_set("catalog", "templates/line_test/fields/Test", {"type": "integer", "required": True}), "lower-case"),
]


@pytest.mark.parametrize(("change", "words"), BROKEN)
def test_from_data_refuses_inconsistent_data(change: Any, words: str) -> None:
    catalog, renderings = raw_data()
    catalog, renderings = copy.deepcopy(catalog), copy.deepcopy(renderings)
    change(catalog, renderings)
    with pytest.raises(ValueError) as info:
        TemplateCatalog.from_data(catalog, renderings)
    assert words in str(info.value)


# --- any valid values render in every language -----------------------------------------------------------------

SAFE_TEXT = st.characters(
    exclude_categories=("Cc", "Cs", "Zl", "Zp"),
    exclude_characters="{}\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
)
OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=3)), timezone(timedelta(hours=-5, minutes=-30))])


def value_strategy(f: FieldSpec) -> st.SearchStrategy[Any]:
    if f.type == "string":
        return st.text(SAFE_TEXT, min_size=1, max_size=f.max_length).map(str.strip).filter(bool)
    if f.type == "integer":
        low, high = f.minimum, f.maximum
        return st.integers(-(10**6) if low is None else int(low), 10**6 if high is None else int(high))
    if f.type in ("number", "lat", "lon"):
        low, high = {"lat": (-90.0, 90.0), "lon": (-180.0, 180.0)}.get(f.type, (f.minimum, f.maximum))
        low, high = -1e6 if low is None else low, 1e6 if high is None else high
        return st.one_of(st.floats(low, high, allow_nan=False), st.integers(math.ceil(low), math.floor(high)))
    if f.type == "datetime":
        moments = st.datetimes(datetime(1970, 1, 1), datetime(2200, 1, 1), timezones=OFFSETS)
        return st.tuples(moments, st.booleans()).map(lambda pair: pair[0].isoformat() if pair[1] else pair[0])
    return st.sampled_from(f.values)


def _key(value: Any) -> Any:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


@st.composite
def template_and_fields(draw: st.DrawFn) -> tuple[TemplateSpec, dict[str, Any]]:
    spec = CATALOG.templates[draw(st.sampled_from(CATALOG.template_ids()))]
    fields = {f.name: draw(value_strategy(f)) for f in spec.fields if f.required or draw(st.booleans())}
    for first, second in spec.ordered:
        if first in fields and second in fields and _key(fields[first]) > _key(fields[second]):
            fields[first], fields[second] = fields[second], fields[first]
    return spec, fields


@settings(max_examples=300, deadline=None)
@given(template_and_fields())
def test_any_valid_fields_render_cleanly_in_every_language(case: tuple[TemplateSpec, dict[str, Any]]) -> None:
    spec, fields = case
    normalised = CATALOG.validate(spec.id, fields)
    assert CATALOG.validate(spec.id, normalised) == normalised  # idempotent: stored fields re-validate
    for lang in LANGUAGES:
        message = CATALOG.render(spec.id, fields, lang)
        text = f"{message.title}\n{message.body}"
        template_text = text
        for f in spec.fields:
            if f.type == "string" and f.name in normalised:
                assert normalised[f.name] in text
                template_text = template_text.replace(normalised[f.name], "")  # a sender may well write "None"
        assert "{" not in template_text and "}" not in template_text and "None" not in template_text


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.datetimes(timezones=st.none() | OFFSETS),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(CATALOG.template_ids()), st.data())
def test_any_input_is_either_accepted_or_refused_as_invalid_input(template_id: str, data: st.DataObject) -> None:
    spec = CATALOG.template(template_id)
    fields = sample(spec)
    for name in data.draw(st.sets(st.sampled_from(spec.field_names), min_size=1)):
        fields[name] = data.draw(JSON_VALUES)
    try:
        CATALOG.render(template_id, fields, data.draw(st.sampled_from(LANGUAGES)))
    except InvalidInput as exc:
        assert exc.details["field"] in spec.field_names and exc.message.endswith((".", "?"))
