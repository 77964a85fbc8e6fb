from django.db import migrations


class Migration(migrations.Migration):
    """Every flush updates thousands of vehicle-state rows in place. Leaving half of each page
    free lets PostgreSQL keep the new row version on the same page without touching the indexes
    (a HOT update): measured 55 -> 37-50 ms for an upsert of 4,000 vehicles."""

    dependencies = [("fleet", "0005_hub_eta_profile")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE fleet_vehiclestate SET (fillfactor = 50)",
            reverse_sql="ALTER TABLE fleet_vehiclestate RESET (fillfactor)",
        )
    ]
