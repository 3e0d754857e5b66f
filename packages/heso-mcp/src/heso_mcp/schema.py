"""What a client gate sends: a tool's arguments read against the tool's input schema.

The server decides what its tool receives, so the client gate sends exactly the arguments it
gated, in the form any server accepts as they are: a JSON string sent for a parameter whose
schema does not take a string is parsed (as FastMCP would parse it), a parameter left out gets
the schema's default, and the result must validate against the schema. Arguments that do not
validate (``"yes"`` for a boolean, a number for a list) are never sent: heso cannot know how
the server would coerce them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match


class ArgumentsRejected(ValueError):
    """The arguments do not match the tool's input schema; the message says where."""


def prepare(
    tool_name: str, schema: Mapping[str, Any], arguments: Mapping[str, Any]
) -> dict[str, Any]:
    """``arguments`` as the client sends them to ``tool_name`` with input ``schema``:
    JSON strings parsed where the schema takes no string, defaults filled in, validated.

    Raises :class:`ArgumentsRejected` when the result does not validate.
    """
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema)
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    out = dict(arguments)
    for name, value in arguments.items():
        prop = properties.get(name)
        if isinstance(value, str) and isinstance(prop, Mapping):
            out[name] = _pre_parse(validator, prop, value)
    for name, prop in properties.items():
        if name not in out and isinstance(prop, Mapping) and "default" in prop:
            out[name] = copy.deepcopy(prop["default"])
    error = best_match(validator.iter_errors(out))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "the arguments"
        raise ArgumentsRejected(
            f"heso did not send {tool_name!r}: its arguments do not match the tool's input "
            f"schema ({where}: {error.message})"
        )
    return out


def _pre_parse(validator: Any, prop: Mapping[str, Any], value: str) -> Any:
    """A JSON string for a parameter that takes no string, parsed (an array, object, boolean
    or null; a number or string inside the quotes stays text, as FastMCP leaves it)."""
    if validator.evolve(schema=prop).is_valid(value):
        return value
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    return (
        value if isinstance(parsed, (str, int, float)) and not isinstance(parsed, bool) else parsed
    )


__all__ = ["ArgumentsRejected", "prepare"]
