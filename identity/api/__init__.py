"""The API kit every app's `/v1` endpoints share: strict serializers and parsers, checks of raw
input, tenant-scoped viewsets, scope permissions, paging without COUNT(*), OPTIONS answers, and the
one error shape. It knows no app's models beyond the tenant a credential carries, so apps build on
it and never on each other's views."""
