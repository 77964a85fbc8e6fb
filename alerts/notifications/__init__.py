"""Notifications of alerts: who hears of an alert, on which channel, when.

- `subscriber`: the "alerts-notifications" outbox subscriber on alert.opened / escalated /
  resolved: one Notification row per recipient and channel (the idempotency key makes a
  redelivered event a no-op and notifies a person once per alert, phase and channel);
  storms of one rule become one grouped message.
- `planning`: pure functions (quiet hours, digest time, the role ladder, storm windows).
- `sending`: email through Django's email backend, once per row, and the daily digest.
- `tasks`: the Celery tasks (late acks) and the per-organization minute tick.
"""
