"""Just enough JSON Schema (the subset the OpenAPI document uses) to check responses against it."""

from __future__ import annotations

from typing import Any

TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}
KNOWN = {
    "type", "properties", "required", "items", "enum", "minimum", "maximum", "minItems", "maxItems", "$ref",
    "description", "default", "contentMediaType", "oneOf",
}  # fmt: skip


def _is(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, TYPES[kind])


def validate(value: Any, schema: dict[str, Any], root: dict[str, Any], where: str = "$") -> list[str]:
    """Violations of ``schema`` by ``value`` (empty when valid); ``root`` resolves ``#/...`` references."""
    unknown = set(schema) - KNOWN
    assert not unknown, f"{where}: schema keyword(s) {unknown} not supported by this checker"
    if "$ref" in schema:
        target: Any = root
        for key in schema["$ref"].removeprefix("#/").split("/"):
            target = target[key]
        return validate(value, target, root, where)
    if "oneOf" in schema:
        matches = sum(not validate(value, option, root, where) for option in schema["oneOf"])
        return [] if matches == 1 else [f"{where}: matches {matches} of the oneOf schemas, not exactly one"]
    errors = []
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_is(value, k) for k in kinds):
            return [f"{where}: {value!r:.60} is not of type {kinds}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: {value} > {schema['maximum']}")
    if isinstance(value, dict):
        errors += [f"{where}: missing {key!r}" for key in schema.get("required", []) if key not in value]
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                errors += validate(value[key], sub, root, f"{where}.{key}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", len(value)):
            errors.append(f"{where}: {len(value)} items outside [minItems, maxItems]")
        for i, item in enumerate(value):
            errors += validate(item, schema.get("items", {}), root, f"{where}[{i}]")
    return errors
