"""`python manage.py import_keycloak_export PATH --tenant SLUG`: a Keycloak realm's users into a tenant.

PATH is what `kc.sh export --dir PATH --realm R --users different_files|same_file|realm_file`
wrote (or its `R-realm.json` alone). Users keep their Keycloak ids, fields, attributes (`phone_number`
becomes the phone number, `phone_number_verified` its flag), required actions, realm roles and groups;
their password hashes are kept as Keycloak wrote them and rewritten as the backend's Argon2 at their
first login. Realm roles come from the realm file, without Keycloak's own (`offline_access`,
`uma_authorization`, `default-roles-<realm>`); groups are made by path from the realm file's tree.
Service-account users and users federated from another provider are skipped and listed. TOTP and
WebAuthn credentials, client roles, social links, group role mappings and composites stay in
Keycloak and are counted.

One transaction: any conflict (say two users with one e-mail address) or refused value is listed by
user id and nothing is written; bad input (malformed JSON, an unknown hash algorithm, a file that
is not a Keycloak export) stops with the file and the user. Run it again with a newer export to
update in place (the delta pass at cutover); the same export twice changes nothing. How the writes
keep the services' invariants is in `users.keycloak_import.load`.
"""

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from users.keycloak_import import export, load


class Command(BaseCommand):
    help = "Import the users, realm roles and groups of a Keycloak realm export (kc.sh export) into a tenant."
    requires_system_checks = []  # the URL and API checks cost seconds and concern none of this

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="the directory kc.sh export --dir wrote, or a <realm>-realm.json")
        parser.add_argument("--tenant", required=True, help="the tenant's slug (created if missing)")
        parser.add_argument("--realm", help="the realm, when the directory holds several")
        parser.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                            help="processes converting the users files (default: one per core)")
        parser.add_argument("--keep-indexes", action="store_true",
                            help="never set the user table's search indexes and foreign keys aside: a large import then "
                                 "runs slower but does not lock other tenants' user reads until it commits")

    def handle(self, *args, path, tenant, realm, dry_run, no_progress, workers, keep_indexes, **options):
        from tqdm import tqdm

        progress = tqdm(unit=" users", desc="importing", disable=True if no_progress else None,
                        file=self.stderr._out, smoothing=0.1)
        try:
            report = load.run_import(path, tenant, realm=realm, dry_run=dry_run, progress=progress,
                                     workers=max(1, workers), rebuild_indexes=not keep_indexes)
        except export.ExportError as error:
            raise CommandError(f"{error} — nothing was written") from None
        except load.ImportConflicts as error:
            for line in load.summary(error.report):
                self.stderr.write(line)
            raise CommandError(str(error)) from None
        for line in load.summary(report):
            self.stdout.write(line)
        return None
