"""`manage.py import_gen2_profiles --dsn postgres://… --tenant SLUG`: the celebrity and fan services'
tables into a tenant, ids kept, in one transaction. The mapping and what bypasses the services
are in `profiles.gen2_import`."""

from django.core.management.base import BaseCommand, CommandError

from profiles import gen2_import
from users.models import Tenant


class Command(BaseCommand):
    help = ("Import the Gen-2 celebrity and fan services' PostgreSQL tables into a tenant, keeping their ids; "
            "a re-run updates in place. Profiles whose user the backend lacks are listed and skipped; an "
            "invalid row or a conflict fails the run and leaves the backend unchanged.")

    def add_arguments(self, parser):
        parser.add_argument("--dsn", required=True,
                            help="the source database (postgres://user:password@host:port/name)")
        parser.add_argument("--fan-dsn", help="the fan service's database, when it is not the one of --dsn")
        parser.add_argument("--tenant", required=True, help="the slug of the tenant the profiles belong to")
        parser.add_argument("--schema", default="public", help="the source tables' schema (default: public)")
        parser.add_argument("--dry-run", action="store_true", help="check and count everything, then roll back")

    def handle(self, *args, dsn, fan_dsn, tenant, schema, dry_run, **options):
        target = Tenant.objects.filter(slug=tenant).first()
        if target is None:
            raise CommandError(f"There is no tenant {tenant!r}.")
        try:
            report = gen2_import.run(target, {"celebrity": dsn, "fan": fan_dsn or dsn}, schema=schema,
                                     dry_run=dry_run, progress=self._progress)
        except gen2_import.ImportFailed as error:
            raise CommandError(str(error)) from None
        self.stdout.write(gen2_import.summary(report, dry_run=dry_run))

    def _progress(self, message, final=False):
        # On a terminal each table's line is rewritten as it goes; elsewhere only its final line is written.
        tty = self.stdout.isatty()
        if final:
            self.stdout.write(f"\r{message}" if tty else message)
        elif tty:
            self.stdout.write(f"\r{message}", ending="")
            self.stdout.flush()
