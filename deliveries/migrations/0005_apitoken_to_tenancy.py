# The API token model moved to tenancy (tenancy/api/models.py); its table stays where it is.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("deliveries", "0004_webhook_delivery_outbox_event"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ApiToken")],
            database_operations=[],
        ),
    ]
