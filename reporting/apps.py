from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "reporting"

    def ready(self) -> None:
        from fleet.maintenance import retention_hook_register

        from .reports.services import report_runs_retention_apply

        # The report archive is kept as long as REPORTS_RETENTION_DAYS, deleted by the hourly
        # per-organization retention task with positions and refused fixes.
        retention_hook_register("report_runs", report_runs_retention_apply)

        # Late fixes and changed orders mark their rollup days dirty (reporting/dirty.py).
        from .subscribers import reporting_subscribe

        reporting_subscribe()
