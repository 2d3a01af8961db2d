"""Bytes per user on disk: the backend's user tables, and Keycloak's for the users in its own
storage; tables with their indexes and TOAST (`pg_total_relation_size`)."""

# Keycloak's tables that hold a user's rows in its JPA store; fed_* hold what Keycloak keeps for
# users of a storage provider that does not import them.
KEYCLOAK_USER_TABLES = (
    "user_entity", "user_attribute", "credential", "user_role_mapping", "user_group_membership",
    "user_required_action", "federated_identity", "user_consent", "user_consent_client_scope",
    "fed_user_attribute", "fed_user_credential", "fed_user_role_mapping", "fed_user_group_membership",
    "fed_user_required_action", "fed_user_consent", "fed_user_consent_cl_scope",
)


def backend_user_tables():
    """The users app's tables that hold users: the user (attributes and password hash are its
    columns), its many-to-many tables (roles, groups, permissions) and the tables whose rows
    belong to one user (last login, reset and magic tokens)."""
    from django.apps import apps

    from users.models import User

    tables = [User._meta.db_table]
    tables += [field.remote_field.through._meta.db_table for field in User._meta.many_to_many]
    for model in apps.get_app_config("users").get_models():
        if model is not User and any(getattr(field, "related_model", None) is User and field.many_to_one
                                     or field.one_to_one and field.related_model is User
                                     for field in model._meta.fields):
            tables.append(model._meta.db_table)
    return tables


def backend(users):
    """Bytes per user of the backend's user tables (the bench tenant is the only one with users)."""
    from django.db import connection

    with connection.cursor() as cursor:
        sizes = {}
        for table in backend_user_tables():
            cursor.execute("SELECT pg_total_relation_size(%s::regclass)", [table])
            sizes[table] = cursor.fetchone()[0]
    total = sum(sizes.values())
    return {"users": users, "bytes": total, "bytes_per_user": round(total / users), "tables": sizes}


def keycloak(db, realm_b, users):
    """Bytes per user of realm B's rows. Keycloak's tables also hold realm A's minimal rows (the
    provider imports a row per user who logged in through it): each table's size is shared by
    rows, and realm B is counted its share. `db` is a psycopg connection to Keycloak's database."""
    realms = dict(db.execute("SELECT id, name FROM realm").fetchall())
    tables = {}
    for table in KEYCLOAK_USER_TABLES:
        if not db.execute("SELECT to_regclass(%s)", [table]).fetchone()[0]:
            continue
        columns = {name for (name,) in db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", [table]).fetchall()}
        if "realm_id" in columns:
            by_realm = db.execute(f"SELECT realm_id, count(*) FROM {table} GROUP BY 1").fetchall()
        elif "user_id" in columns:
            by_realm = db.execute(f"SELECT e.realm_id, count(*) FROM {table} t JOIN user_entity e ON e.id = "
                                  "t.user_id GROUP BY 1").fetchall()
        else:  # a consent's client scopes: the realm is the consent's
            consent = "fed_user_consent" if table.startswith("fed_") else "user_consent"
            realm = "c.realm_id" if consent == "fed_user_consent" else "e.realm_id"
            join = "" if consent == "fed_user_consent" else " JOIN user_entity e ON e.id = c.user_id"
            by_realm = db.execute(f"SELECT {realm}, count(*) FROM {table} t JOIN {consent} c ON c.id = "
                                  f"t.user_consent_id{join} GROUP BY 1").fetchall()
        rows = {realms.get(realm, realm): count for realm, count in by_realm}
        size = db.execute("SELECT pg_total_relation_size(%s::regclass)", [table]).fetchone()[0]
        all_rows = sum(rows.values())
        tables[table] = {"bytes": size, "rows": rows,
                         "bytes_realm_b": round(size * rows.get(realm_b, 0) / all_rows) if all_rows else 0}
    realm_b_bytes = sum(t["bytes_realm_b"] for t in tables.values())
    return {"users": users, "bytes_realm_b": realm_b_bytes, "bytes_per_user": round(realm_b_bytes / users),
            "bytes_all_rows": sum(t["bytes"] for t in tables.values()), "tables": tables,
            "accounting": "each table's total size (with indexes and TOAST) split by its rows' realms; "
                          "realm B counted its share, divided by realm B's users"}
