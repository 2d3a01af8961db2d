"""The API kit every app's `/v1` endpoints share: strict serializers, tenant-scoped viewsets,
scope permissions, paging without COUNT(*), and the one error shape. It knows no app's models
beyond the tenant a credential carries, so apps build on it and never on each other's views."""
