"""JSON Schema (what OpenAI-shaped clients send) → Gemini's `Schema`, an OpenAPI 3.0 subset.

Gemini's `responseSchema` and `functionDeclarations[].parameters` reject any
key they do not define ("Invalid JSON payload received. Unknown name ...").
The conversion follows what the google-genai SDK does before it sends a
schema (`_transformers.process_schema`): `$defs` inlined, `type: "null"`
and `anyOf` null members turned into `nullable`, a string `const` into an
enum, type names upper-cased.

Keys Gemini does not define are dropped when they only annotate or narrow
the accepted values (`$schema`, `additionalProperties`, `exclusiveMinimum`,
`examples`, unknown `format`s, vendor `x-` keys): the schema then accepts a
little more, never less. Keys that define
a shape Gemini cannot express (`not`, `if`/`then`/`else`,
`patternProperties`, tuples, several `allOf` members that disagree,
recursive `$ref`s) are INVALID_ARGUMENT naming the model, the feature and
the field; the model option `native_json_schema: true` sends the schema
unconverted instead (`responseJsonSchema` / `parametersJsonSchema`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from model_gateway.errors import GatewayError, invalid

JSON = dict[str, Any]

_TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object"})
# Keys Gemini's Schema defines, copied after conversion of their values.
_PLAIN = ("title", "description", "nullable", "pattern", "example", "default", "minimum", "maximum")
_COUNTS = ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties")
# Shape-defining keys Gemini cannot express: refused rather than silently ignored.
_REFUSED = frozenset(
    {
        "not",
        "if",
        "then",
        "else",
        "patternProperties",
        "dependentSchemas",
        "prefixItems",
        "contains",
        "$dynamicRef",
    }
)
# The formats Gemini honours per type; others are dropped (it answers 400 to some).
_FORMATS = {
    "STRING": frozenset({"enum", "date-time"}),
    "NUMBER": frozenset({"float", "double"}),
    "INTEGER": frozenset({"int32", "int64"}),
}


@dataclass(frozen=True, slots=True)
class SchemaContext:
    """Who asked, for error messages, and how to shape the result."""

    model: str  # the configured model's name
    feature: str  # "JSON-schema output", "tool parameters"


def to_gemini_schema(schema: JSON, where: str, context: SchemaContext) -> JSON:
    """The Gemini `Schema` for a JSON Schema object; `where` is the field path for errors."""
    defs: JSON = {}
    for key in ("$defs", "definitions"):
        found = schema.get(key)
        if isinstance(found, dict):
            defs.update(found)
    return _Converter(defs, context).convert(schema, where, ())


class _Converter:
    def __init__(self, defs: JSON, context: SchemaContext) -> None:
        self.defs = defs
        self.context = context

    def refuse(self, where: str, why: str) -> GatewayError:
        return invalid(
            where,
            f"{why}; model '{self.context.model}' is served by the Gemini API, whose {self.context.feature} "
            "take an OpenAPI 3.0 subset of JSON Schema (the model option native_json_schema: true sends "
            "the schema as is to models that accept full JSON Schema)",
        )

    def convert(self, schema: Any, where: str, refs: tuple[str, ...]) -> JSON:
        if schema is True or schema == {}:
            return {}
        if not isinstance(schema, dict):
            raise self.refuse(where, f"a schema must be an object, got {type(schema).__name__}")
        schema, refs = self._resolve(schema, where, refs)
        schema = self._merge_all_of(schema, where)
        for key in schema:
            if key in _REFUSED:
                raise self.refuse(f"{where}.{key}", f"the JSON-schema keyword '{key}' is not supported")
        out: JSON = {}
        nullable = self._type(schema, out, where)
        self._alternatives(schema, out, where, refs)
        self._enum(schema, out, where)
        for key in _PLAIN:
            if key in schema and schema[key] is not None:
                out[key] = schema[key]
        for key in _COUNTS:
            if isinstance(schema.get(key), int) and not isinstance(schema[key], bool):
                out[key] = schema[key]
        if nullable:
            out["nullable"] = True
        self._object(schema, out, where, refs)
        self._array(schema, out, where, refs)
        self._format(schema, out)
        return self._flatten(out)

    def _resolve(self, schema: JSON, where: str, refs: tuple[str, ...]) -> tuple[JSON, tuple[str, ...]]:
        """A `$ref` to `#/$defs/X` (or `#/definitions/X`) replaced by X, siblings kept."""
        ref = schema.get("$ref")
        if ref is None:
            return schema, refs
        if not isinstance(ref, str) or not ref.startswith(("#/$defs/", "#/definitions/")):
            raise self.refuse(f"{where}.$ref", f"only local #/$defs references can be inlined, not {ref!r}")
        name = ref.rsplit("/", 1)[1]
        if name in refs:
            raise self.refuse(f"{where}.$ref", f"the reference to '{name}' is recursive")
        target = self.defs.get(name)
        if not isinstance(target, dict):
            raise self.refuse(f"{where}.$ref", f"'{name}' is not defined in $defs")
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        return {**target, **siblings}, (*refs, name)

    def _merge_all_of(self, schema: JSON, where: str) -> JSON:
        members = schema.get("allOf")
        if members is None:
            return schema
        if not isinstance(members, list):
            raise self.refuse(f"{where}.allOf", "must be a list of schemas")
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for i, member in enumerate(members):
            if not isinstance(member, dict):
                raise self.refuse(f"{where}.allOf[{i}]", "must be a schema object")
            member, _ = self._resolve(member, f"{where}.allOf[{i}]", ())
            for key, value in member.items():
                if key == "properties" and isinstance(value, dict):
                    merged["properties"] = {**merged.get("properties", {}), **value}
                elif key == "required" and isinstance(value, list):
                    merged["required"] = [*merged.get("required", []), *value]
                elif key in merged and merged[key] != value and key not in ("description", "title"):
                    raise self.refuse(f"{where}.allOf[{i}].{key}", "allOf members that disagree cannot merge")
                else:
                    merged.setdefault(key, value)
        return merged

    def _type(self, schema: JSON, out: JSON, where: str) -> bool:
        """Sets out["type"] (or out["anyOf"] for several types); True when null is allowed."""
        value = schema.get("type")
        names = value if isinstance(value, list) else [] if value is None else [value]
        nullable = "null" in names
        kinds = [n for n in names if n != "null"]
        for kind in kinds:
            if kind not in _TYPES:
                raise self.refuse(f"{where}.type", f"unknown type {kind!r}")
        if len(kinds) == 1:
            out["type"] = str(kinds[0]).upper()
        elif len(kinds) > 1:
            out["anyOf"] = [{"type": str(kind).upper()} for kind in kinds]
        elif "properties" in schema:
            out["type"] = "OBJECT"
        elif "items" in schema:
            out["type"] = "ARRAY"
        elif "enum" in schema or isinstance(schema.get("const"), str):
            out["type"] = "STRING"
        return nullable

    def _alternatives(self, schema: JSON, out: JSON, where: str, refs: tuple[str, ...]) -> None:
        # oneOf is anyOf with exclusivity Gemini cannot check; the model still picks one branch.
        for key in ("anyOf", "oneOf"):
            members = schema.get(key)
            if members is None:
                continue
            if not isinstance(members, list) or not members:
                raise self.refuse(f"{where}.{key}", "must be a non-empty list of schemas")
            converted: list[JSON] = []
            for i, member in enumerate(members):
                if isinstance(member, dict) and member.get("type") == "null" and len(member) == 1:
                    out["nullable"] = True
                    continue
                converted.append(self.convert(member, f"{where}.{key}[{i}]", refs))
            out["anyOf"] = [*out.get("anyOf", []), *converted]

    def _enum(self, schema: JSON, out: JSON, where: str) -> None:
        const = schema.get("const")
        if "const" in schema:
            if not isinstance(const, str):
                raise self.refuse(
                    f"{where}.const", f"only string constants can become an enum, got {const!r}"
                )
            out["enum"] = [const]
        values = schema.get("enum")
        if values is None:
            return
        if not isinstance(values, list):
            raise self.refuse(f"{where}.enum", "must be a list")
        if None in values:
            out["nullable"] = True
        # Gemini enums are strings, also for INTEGER fields (its own documented form).
        out["enum"] = [v if isinstance(v, str) else _json_text(v) for v in values if v is not None]
        if out.get("type", "STRING") != "STRING" or any(
            not isinstance(v, str) for v in values if v is not None
        ):
            out["format"] = "enum"

    def _object(self, schema: JSON, out: JSON, where: str, refs: tuple[str, ...]) -> None:
        properties = schema.get("properties")
        if isinstance(properties, dict) and properties:
            out["properties"] = {
                name: self.convert(sub, f"{where}.properties.{name}", refs)
                for name, sub in properties.items()
            }
            required = schema.get("required")
            if isinstance(required, list):
                kept = [name for name in required if name in properties]
                if kept:
                    out["required"] = kept
            # The declared order does not survive the canonical Struct (a map), so
            # propertyOrdering is only passed on when the schema states it.
            ordering = schema.get("propertyOrdering")
            if isinstance(ordering, list):
                out["propertyOrdering"] = ordering

    def _array(self, schema: JSON, out: JSON, where: str, refs: tuple[str, ...]) -> None:
        items = schema.get("items")
        if items is None:
            return
        if isinstance(items, list):
            raise self.refuse(f"{where}.items", "tuple schemas (a list of item schemas) are not supported")
        out["items"] = self.convert(items, f"{where}.items", refs)

    def _format(self, schema: JSON, out: JSON) -> None:
        fmt = schema.get("format")
        if out.get("format") == "enum" or not isinstance(fmt, str):
            return
        if fmt in _FORMATS.get(str(out.get("type")), frozenset()):
            out["format"] = fmt

    @staticmethod
    def _flatten(out: JSON) -> JSON:
        """A lone anyOf member (what remains of `X | null`) is merged into its parent."""
        members = out.get("anyOf")
        if isinstance(members, list) and len(members) == 1:
            del out["anyOf"]
            for key, value in members[0].items():
                out.setdefault(key, value)
        return out


def _json_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def has_properties(schema: JSON) -> bool:
    """Whether a converted parameters schema declares anything (Gemini refuses an empty OBJECT)."""
    return bool(schema.get("properties")) or schema.get("type") not in (None, "OBJECT")


__all__ = ["SchemaContext", "has_properties", "to_gemini_schema"]
