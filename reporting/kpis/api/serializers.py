"""The KPI API's answers, described field by field for the schema (the figures come from
`KpiFigures`, so a new figure appears here without a second list)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from ..figures import KpiFigures


class FigureSerializer(serializers.Serializer[Any]):
    value = serializers.FloatField(
        allow_null=True, help_text="null when there is nothing to measure (never a false 0)."
    )
    numerator = serializers.FloatField(allow_null=True)
    denominator = serializers.FloatField(
        allow_null=True, help_text="null for plain sums; value = numerator / denominator."
    )
    unit = serializers.CharField(
        help_text="count, ratio (0..1), per_hour, seconds, km, per_100_km or currency:<ISO>."
    )


FiguresSerializer = type(
    "KpiFiguresSerializer",
    (serializers.Serializer,),
    {name: FigureSerializer() for name in KpiFigures.names()},
)


class FailureReasonSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text='"" for a failure without a reason.')
    label = serializers.CharField()  # type: ignore[assignment]
    failures = serializers.IntegerField()


class EtaAccuracySerializer(serializers.Serializer[Any]):
    horizon_minutes = serializers.IntegerField()
    predictions = serializers.IntegerField()
    mean_error_minutes = serializers.FloatField(allow_null=True)
    mean_absolute_error_minutes = serializers.FloatField(allow_null=True)
    within_5_minutes = FigureSerializer()
    percentiles = serializers.DictField(child=serializers.IntegerField())
    histogram = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))


class PeriodSerializer(serializers.Serializer[Any]):
    start = serializers.DateField()
    end = serializers.DateField()
    hub = serializers.ListField(child=serializers.IntegerField())
    zone = serializers.ListField(child=serializers.IntegerField())
    vehicle = serializers.ListField(child=serializers.IntegerField())
    driver = serializers.ListField(child=serializers.IntegerField())


class KpiSummarySerializer(serializers.Serializer[Any]):
    period = PeriodSerializer()
    timezone = serializers.CharField()
    currency = serializers.CharField()
    figures = FiguresSerializer()
    previous = FiguresSerializer(help_text="The period of the same length just before.")
    failures_by_reason = FailureReasonSerializer(many=True)
    eta_accuracy = EtaAccuracySerializer(many=True)


class KpiDaySerializer(serializers.Serializer[Any]):
    day = serializers.DateField()
    figures = FiguresSerializer()


class KpiDailySerializer(serializers.Serializer[Any]):
    period = PeriodSerializer()
    timezone = serializers.CharField()
    days = KpiDaySerializer(many=True)


class KpiRowSerializer(serializers.Serializer[Any]):
    key = serializers.CharField(help_text="The entity's id, or the day (yyyy-mm-dd).")
    label = serializers.CharField()  # type: ignore[assignment]
    figures = FiguresSerializer()


class KpiBreakdownSerializer(serializers.Serializer[Any]):
    period = PeriodSerializer()
    timezone = serializers.CharField()
    by = serializers.ChoiceField(choices=["vehicle", "driver", "hub", "day"])
    rows = KpiRowSerializer(many=True)
