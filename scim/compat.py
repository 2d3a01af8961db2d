"""What Okta and Microsoft Entra send beyond RFC 7644, read as what they mean.

Most of it scim2-models reads already: operation names in any case (Entra's `Replace`),
booleans as strings (`"False"`), and, with the policy below, Entra's `remove` whose `value`
names the members to remove and its `replace` of `emails[type eq "work"].value` on a user
without one. The rest is rewritten here before the body is validated:

- Okta sends each group member with a `display` name, which is the server's to say (a
  read-only attribute in RFC 7643) and which this backend does not publish: it is dropped.
- Entra sets the enterprise `manager` to the manager's id as a bare string, or as a list of one
  `{"value": …}`: it becomes the complex value `{"value": …}` the schema describes.
- Entra sends `name.formatted` (by default "givenName familyName"), which this backend derives
  from the first and last name rather than keeps: it is dropped, from bodies and from PATCH
  operations alike.
- Entra sends attributes it has no value for as `[]` or `null`, such as `"roles": []`. RFC 7643
  §2.5 makes them equivalent to leaving the attribute out, which is what they become.
"""

import json
from typing import Any

from scim2_models import ScimPolicy

from .schemas import ENTERPRISE_SCHEMA, USER_SCHEMA

POLICY = ScimPolicy(remove_value_as_filter=ScimPolicy.RemoveValue.apply,
                    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create)
MANAGER_PATHS = {"manager", f"{ENTERPRISE_SCHEMA}:manager".lower()}
NAME_PATHS = {"name", f"{USER_SCHEMA}:name".lower()}
FORMATTED_NAME_PATHS = {"name.formatted", f"{USER_SCHEMA}:name.formatted".lower()}


def resource_body(body: bytes) -> bytes:
    """A POST or PUT body."""
    document = parse(body)
    if not isinstance(document, dict):
        return body
    return json.dumps(_resource(document)).encode()


def _resource(document: dict) -> dict:
    document = {key: value for key, value in document.items() if value not in (None, []) or key == "schemas"}
    if isinstance(document.get("members"), list):
        document["members"] = _members(document["members"])
    name = next((key for key in document if key.lower() == "name"), None)
    if name and isinstance(document[name], dict):
        document[name] = {key: value for key, value in document[name].items() if key.lower() != "formatted"}
    return document


def patch_body(body: bytes) -> bytes:
    document = parse(body)
    operations = document.get("Operations") if isinstance(document, dict) else None
    if not isinstance(operations, list):
        return body
    kept = []
    for operation in operations:
        if not isinstance(operation, dict):
            kept.append(operation)
            continue
        path = str(operation.get("path") or "").lower()
        value = operation.get("value")
        if path in FORMATTED_NAME_PATHS:
            continue
        if path.startswith("members") and isinstance(value, list):
            operation["value"] = _members(value)
        elif path in MANAGER_PATHS:
            operation["value"] = _manager(value)
        elif path in NAME_PATHS and isinstance(value, dict):
            operation["value"] = {key: item for key, item in value.items() if key.lower() != "formatted"}
        elif not path and isinstance(value, dict):
            operation["value"] = _resource(value)
        kept.append(operation)
    if not kept and operations:
        # Only writes of name.formatted: an operation that changes nothing keeps the body valid.
        kept = [{"op": "add", "path": "name", "value": {}}]
    document["Operations"] = kept
    return json.dumps(document).encode()


def parse(body: bytes) -> Any:
    """The JSON of a body, or None when it is not JSON."""
    try:
        return json.loads(body)
    except ValueError:
        return None  # scim2-server answers invalidSyntax


def _members(members: list) -> list:
    return [{key: value for key, value in member.items() if key != "display"} if isinstance(member, dict)
            else member for member in members]


def _manager(value: Any) -> Any:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, str):
        return {"value": value}
    return value
