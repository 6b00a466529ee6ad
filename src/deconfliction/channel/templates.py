"""Loads the message templates shipped in ``deconfliction/templates/`` (see ``core/templates.py`` for the format)."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from deconfliction.core.templates import LANGUAGES, TemplateCatalog


def _read(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resources.files("deconfliction").joinpath("templates", name).read_text("utf-8"))
    return data


@functools.cache
def load_catalog() -> TemplateCatalog:
    """The checked catalog with every shipped language; read once, then cached (it is immutable)."""
    return TemplateCatalog.from_data(_read("catalog.json"), {lang: _read(f"{lang}.json") for lang in LANGUAGES})
