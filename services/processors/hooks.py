"""What only one processor needs, as small named functions a definition names (`"hook": "split_name"`):
each takes the values a task's calls are filled from and returns them, changed. Nothing else in the engine
knows any processor."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

Hook = Callable[[dict[str, Any]], dict[str, Any]]


def split_name(values: dict[str, Any]) -> dict[str, Any]:
    """ActiveCampaign keeps a first and a last name; a correction gives one name: the first word is the first
    name, the rest the last name ("Anna de Vries" -> "Anna", "de Vries")."""
    new = dict(values.get("new") or {})
    if new.get("name"):
        first, _, last = str(new["name"]).strip().partition(" ")
        new.setdefault("first_name", first)
        new.setdefault("last_name", last or None)
    return {**values, "new": new}


def gravityforms_search(values: dict[str, Any]) -> dict[str, Any]:
    """Gravity Forms finds entries by a form field's value, given as JSON in one query parameter; the email
    field's id is the site's (`options.email_field`)."""
    field = (values.get("options") or {}).get("email_field", "2")
    search = {"field_filters": [{"key": field, "value": values.get("email", ""), "operator": "is"}]}
    return {**values, "search": json.dumps(search)}


HOOKS: dict[str, Hook] = {"split_name": split_name, "gravityforms_search": gravityforms_search}
