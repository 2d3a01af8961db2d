"""Importing the users of a Keycloak realm from its `kc.sh export` (`manage.py import_keycloak_export`)."""
