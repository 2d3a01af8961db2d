"""No container engine runs on the build machines, so the recipes are checked as text: every
file they copy or mount exists, and every variable they set is one that something reads."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
COMPOSE = yaml.safe_load((DOCKER / "compose.yaml").read_text())
# Read by gunicorn itself, or by Keycloak (its KC_* options), not by our settings.
READ_ELSEWHERE = {"WEB_CONCURRENCY"}


def settings_variables() -> set[str]:
    text = (ROOT / "identity" / "settings.py").read_text()
    return set(re.findall(r'(?:os\.environ\.get|env_int|env_bool|env_list)\(\s*"([A-Z0-9_]+)"', text))


@pytest.mark.parametrize("dockerfile", sorted(DOCKER.glob("*.Dockerfile")), ids=lambda p: p.name)
def test_every_copied_file_exists(dockerfile):
    for line in dockerfile.read_text().splitlines():
        if line.startswith("COPY") and "--from=" not in line:
            *sources, _ = line.split()[1:]
            for source in sources:
                assert (ROOT / source).exists(), f"{dockerfile.name} copies missing {source}"


def test_compose_builds_and_mounts_files_that_exist():
    for name, service in COMPOSE["services"].items():
        if "build" in service:
            assert (DOCKER / service["build"]["context"] / service["build"]["dockerfile"]).exists(), name
        for volume in service.get("volumes", []):
            assert (DOCKER / volume.split(":")[0]).exists(), (name, volume)


def test_every_variable_set_is_read():
    known = settings_variables() | READ_ELSEWHERE
    assert {"DATABASE_URL", "DJANGO_SECRET_KEY"} <= known  # the parser still finds the settings
    for name, service in COMPOSE["services"].items():
        for variable in service.get("environment", {}):
            if name.startswith("keycloak") or variable.startswith("KC_BOOTSTRAP_ADMIN"):
                assert variable.startswith("KC_"), (name, variable)  # Keycloak's own options
            elif name not in ("postgres", "rabbitmq"):  # the images' own variables
                assert variable in known, f"{name} sets {variable}, which nothing reads"


def test_readme_lists_every_setting():
    readme = (ROOT / "README.md").read_text()
    missing = sorted(v for v in settings_variables() if f"`{v}`" not in readme)
    assert not missing, f"README's settings table lacks {missing}"


def test_the_keycloak_image_runs_the_pinned_version():
    pom = (ROOT / "keycloak_bridge" / "provider" / "pom.xml").read_text()
    version = re.search(r"<keycloak.version>([^<]+)</keycloak.version>", pom).group(1)
    assert f"quay.io/keycloak/keycloak:{version}" in (DOCKER / "keycloak.Dockerfile").read_text()


def test_the_cluster_profile_adds_a_second_node_of_the_same_keycloak():
    """The nodes share the image, the database (where jdbc-ping finds the other node) and the
    issuer that tokens name; the second comes only with `--profile cluster`."""
    first, second = COMPOSE["services"]["keycloak"], COMPOSE["services"]["keycloak-2"]
    assert "profiles" not in first and second["profiles"] == ["cluster"]
    assert second["build"] == first["build"]
    assert "--cache=ispn" in (DOCKER / "keycloak.Dockerfile").read_text()
    for node in (first, second):
        assert node["environment"]["KC_DB_URL"] == first["environment"]["KC_DB_URL"]
        assert node["environment"]["KC_CACHE_STACK"] == "jdbc-ping"
        assert node["command"][:2] == ["start", "--optimized"]
    realm_job = COMPOSE["services"]["realm"]["command"]
    keycloak_url = realm_job[realm_job.index("--keycloak-url") + 1]
    assert f"--hostname={keycloak_url}" in second["command"]
    assert {p.split(":")[-1] for p in first["ports"]} == {p.split(":")[-1] for p in second["ports"]} == {"8080"}
    assert first["ports"] != second["ports"]


def test_the_backend_image_holds_every_app_of_the_project():
    from django.conf import settings

    copied = {line.split()[1] for line in (DOCKER / "backend.Dockerfile").read_text().splitlines()
              if line.startswith("COPY") and "--from=" not in line}
    local = {app.split(".")[0] for app in settings.INSTALLED_APPS if (ROOT / app.split(".")[0]).is_dir()}
    assert local <= copied, f"backend.Dockerfile copies none of {sorted(local - copied)}"
