"""The AsyncAPI 3 document of the catalogue: `python -m events.asyncapi FILE` (`make schema` writes
`identity/asyncapi.yaml`; a test compares the committed file with `document()`)."""

import sys

import yaml

from .catalogue import EXCHANGES, MESSAGES

_HEADERS = {
    "type": "object",
    "description": "CloudEvents 1.0 attributes in binary content mode (the AMQP content type is application/json).",
    "required": ["ce-id", "ce-type", "ce-source", "ce-specversion", "ce-subject", "ce-time", "ce-tenant"],
    "properties": {
        "ce-id": {"type": "string", "description": "The message id: the outbox row's id. Delivery is at least "
                                                   "once; de-duplicate on it."},
        "ce-type": {"type": "string", "description": "The message name."},
        "ce-source": {"type": "string", "description": "EVENTS_SOURCE of the publishing deployment."},
        "ce-specversion": {"type": "string", "const": "1.0"},
        "ce-subject": {"type": "string", "description": "The user or profile id (the aggregate, whose order is kept)."},
        "ce-time": {"type": "string", "format": "date-time", "description": "When the change committed its event."},
        "ce-tenant": {"type": "string", "description": "The tenant's slug (the Keycloak realm)."},
    },
}


def _payload(message):
    return {"type": "object", "additionalProperties": False,
            "required": sorted(set(message.fields) - message.optional), "properties": message.fields}


def document() -> dict:
    channels, operations, messages = {}, {}, {}
    for exchange, description in EXCHANGES.items():
        channels[exchange] = {
            "address": exchange, "description": description, "messages": {},
            "bindings": {"amqp": {"is": "routingKey", "bindingVersion": "0.3.0", "exchange": {
                "name": exchange, "type": "topic", "durable": True, "autoDelete": False, "vhost": "/"}}},
        }
    for message in MESSAGES:
        channels[message.exchange]["messages"][message.name] = {"$ref": f"#/components/messages/{message.name}"}
        messages[message.name] = {
            "name": message.name, "summary": message.summary, "contentType": "application/json",
            "headers": _HEADERS, "payload": _payload(message),
            "bindings": {"amqp": {"messageType": message.name, "bindingVersion": "0.3.0"}},
        }
        operations[f"{'receive' if message.command else 'send'}{message.name}"] = {
            "action": "receive" if message.command else "send",
            "summary": f"Routing key: {message.key}",
            "channel": {"$ref": f"#/channels/{message.exchange}"},
            "messages": [{"$ref": f"#/channels/{message.exchange}/messages/{message.name}"}],
            "bindings": {"amqp": {"cc": [message.key], "deliveryMode": 2, "bindingVersion": "0.3.0"}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Identity backend events", "version": "1.0.0", "description": (
            "What the backend publishes (send) through its outbox and relay, and the commands it consumes "
            "(receive) from the `users` exchange. Every message is a CloudEvent in binary content mode; "
            "a command that cannot apply goes to the consumer's dead-letter queue with an `x-reason` header.")},
        "defaultContentType": "application/json",
        "servers": {"rabbitmq": {"host": "127.0.0.1:5672", "protocol": "amqp", "protocolVersion": "0.9.1",
                                 "description": "EVENTS_BROKER_URL"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data):  # shared schemas written out in full, not as YAML anchors
        return True


def main(path: str):
    with open(path, "w") as out:
        out.write("# Generated from events/catalogue.py by `make schema`: do not edit.\n")
        yaml.dump(document(), out, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)


if __name__ == "__main__":
    main(sys.argv[1])
