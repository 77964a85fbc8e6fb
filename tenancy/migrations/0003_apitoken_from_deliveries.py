# The API token model moved here from deliveries; it keeps its table, deliveries_apitoken, so
# this only takes the model over in Django's state.

import django.db.models.deletion
from django.db import migrations, models


def content_type_follows(apps, schema_editor):
    # Permissions and admin log entries point at the content type: move it, do not orphan it.
    content_types = apps.get_model("contenttypes", "ContentType")
    if not content_types.objects.filter(app_label="tenancy", model="apitoken").exists():
        content_types.objects.filter(app_label="deliveries", model="apitoken").update(
            app_label="tenancy"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("tenancy", "0002_outbox"),
        ("deliveries", "0005_apitoken_to_tenancy"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ApiToken",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("name", models.CharField(max_length=80)),
                        (
                            "token_hash",
                            models.CharField(editable=False, max_length=64, unique=True),
                        ),
                        ("active", models.BooleanField(default=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "last_used_at",
                            models.DateTimeField(blank=True, editable=False, null=True),
                        ),
                        (
                            "organization",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="tenancy.organization",
                            ),
                        ),
                    ],
                    options={"ordering": ["name"], "db_table": "deliveries_apitoken"},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_type_follows, migrations.RunPython.noop),
    ]
