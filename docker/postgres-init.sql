-- Keycloak keeps its sessions and minimal user rows in a database of its own on the same server.
CREATE DATABASE keycloak OWNER identity;
