from django.apps import AppConfig


class ManifestsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "manifests"
    verbose_name = "Manifests"
