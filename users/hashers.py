from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher


class ConfigurableArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id whose cost comes from settings (Keycloak 26's parameters by default).

    The algorithm name stays "argon2", so hashes made with other parameters still verify and
    are upgraded on the next successful check.
    """

    @property
    def time_cost(self):
        return settings.ARGON2_TIME_COST

    @property
    def memory_cost(self):
        return settings.ARGON2_MEMORY_COST

    @property
    def parallelism(self):
        return settings.ARGON2_PARALLELISM
