"""Key performance indicators, read from the daily rollups (past days) and computed live for
today. `filters.KpiFilters` is the one description of "which slice of the operation" shared by
the dashboards, the reports and the reporting API."""
