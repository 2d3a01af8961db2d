"""Domain events: the transactional outbox, its relay to RabbitMQ, the inbound command consumer and
the message catalogue the AsyncAPI document is generated from."""
