"""The clip of the ETA-error histogram, shared by the rollup pass (route_rollups), its table
(models.DailyEtaErrorHistogram's columns) and the KPI figures: a module of its own so that
models need not import the KPI package, which reads the models."""

# Errors beyond an hour either way fall in the outermost bins.
ETA_ERROR_CLIP_MINUTES = 60
