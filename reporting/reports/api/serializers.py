"""Shapes of the reports API, for the schema: a report is its columns and its rows (objects
keyed by column), the same rows the console shows and the files hold."""

from __future__ import annotations

from rest_framework import serializers

from ..definitions import ColumnKind

BIG_ID = 2**63 - 1


class ReportQuerySerializer(serializers.Serializer):
    """The slice (reporting.kpis.filtersets.KpiFilterSet validates it; this describes it)."""

    start = serializers.DateField(required=False, help_text="First local day (yyyy-mm-dd).")
    end = serializers.DateField(required=False, help_text="Last local day, included.")
    hub = serializers.ListField(child=serializers.IntegerField(), required=False)
    zone = serializers.ListField(child=serializers.IntegerField(), required=False)
    vehicle = serializers.ListField(child=serializers.IntegerField(), required=False)
    driver = serializers.ListField(child=serializers.IntegerField(), required=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=5000, default=1000)
    offset = serializers.IntegerField(required=False, min_value=0, max_value=BIG_ID, default=0)


class ColumnSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    type = serializers.ChoiceField(choices=[kind.value for kind in ColumnKind])


class ReportKindSerializer(serializers.Serializer):
    kind = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    url = serializers.CharField()
    columns = ColumnSerializer(many=True)


class ReportSerializer(serializers.Serializer):
    kind = serializers.CharField()
    title = serializers.CharField()
    timezone = serializers.CharField(help_text="Times are ISO 8601 with this zone's offset.")
    start = serializers.DateField()
    end = serializers.DateField()
    columns = ColumnSerializer(many=True)
    count = serializers.IntegerField(help_text="Rows in the whole report.")
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    results = serializers.ListField(
        child=serializers.DictField(), help_text="Rows: objects keyed by the columns' keys."
    )
