"""The database refuses changes to a delivery event, whatever path the UPDATE takes
(queryset.update(), raw SQL). Only `actor_id` may change: to NULL, when a user is deleted."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION deliveries_event_append_only() RETURNS trigger AS $$
BEGIN
    IF (NEW.id, NEW.organization_id, NEW.order_id, NEW.from_status, NEW.to_status, NEW.at,
        NEW.source, NEW.failure_reason_id, NEW.latitude, NEW.longitude, NEW.note)
       IS DISTINCT FROM
       (OLD.id, OLD.organization_id, OLD.order_id, OLD.from_status, OLD.to_status, OLD.at,
        OLD.source, OLD.failure_reason_id, OLD.latitude, OLD.longitude, OLD.note)
       OR (NEW.actor_id IS NOT NULL AND NEW.actor_id IS DISTINCT FROM OLD.actor_id) THEN
        RAISE EXCEPTION 'delivery events are append-only (event %)', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER deliveries_event_append_only
    BEFORE UPDATE ON deliveries_deliveryevent
    FOR EACH ROW EXECUTE FUNCTION deliveries_event_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS deliveries_event_append_only ON deliveries_deliveryevent;
DROP FUNCTION IF EXISTS deliveries_event_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("deliveries", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
