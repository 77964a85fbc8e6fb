"""The manager's home: KPI tiles, trend charts, worst offenders and drill-down links, read from
the KPI interface (reporting.kpis.summary) and never computing a KPI itself."""
