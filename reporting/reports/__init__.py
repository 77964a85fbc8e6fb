"""Reports: typed report kinds (trips, stops, summary, deliveries, plan versus actual,
exceptions, idle, speeding, geofence visits, ETA accuracy), each producing columns and rows for
one slice of the operation (`reporting.kpis.filters.KpiFilters`); their files (CSV, XLSX, PDF
with a chart); export runs in Celery with progress; scheduled runs emailed once per period; the
archive with its retention. docs/reporting.md, "Reports"."""
