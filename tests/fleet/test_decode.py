"""Every OsmAnd parameter form, its JSON variant, and the batch format (pure, no database)."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest

from fleet.ingest.decode import (
    MAX_ATTRIBUTE_KEY_LENGTH,
    MAX_ATTRIBUTE_KEYS,
    MAX_ATTRIBUTE_TEXT_LENGTH,
    DecodeError,
    Fix,
    batch_fix,
    osmand_from_json,
    osmand_from_params,
    parse_time,
    query_params,
)
from fleet.ingest.filters import Limits, fix_refusal

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
T = dt.datetime(2026, 11, 25, 11, 59, 30, tzinfo=dt.UTC)


def decode(query: str, **kwargs: str) -> Fix:
    return osmand_from_params(query_params(query.encode()), now=NOW, **kwargs)


@pytest.mark.parametrize(
    "raw",
    [
        str(int(T.timestamp())),
        str(int(T.timestamp() * 1000)),
        "2026-11-25T11:59:30Z",
        "2026-11-25T12:59:30+01:00",
        "2026-11-25 11:59:30",
    ],
    ids=["unix-seconds", "unix-millis", "iso-z", "iso-offset", "space-separated"],
)
def test_timestamp_forms(raw: str) -> None:
    assert parse_time(raw, now=NOW) == T


def test_missing_timestamp_is_server_time() -> None:
    assert decode("id=a&lat=1&lon=2").fix_time == NOW


def test_unreadable_timestamp_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="timestamp"):
        decode("id=a&lat=1&lon=2&timestamp=yesterday")


@pytest.mark.parametrize("key", ["id", "deviceid"])
def test_device_id_either_name(key: str) -> None:
    assert decode(f"{key}=tracker-1&lat=1&lon=2").device_key == "tracker-1"


def test_missing_device_id() -> None:
    with pytest.raises(DecodeError, match="device id"):
        decode("lat=1&lon=2")


def test_location_parameter() -> None:
    fix = decode("id=a&location=52.1,4.2")
    assert (fix.latitude, fix.longitude) == (52.1, 4.2)


def test_missing_position() -> None:
    with pytest.raises(DecodeError, match="position"):
        decode("id=a&lat=1")


def test_unreadable_coordinate_becomes_nan_for_the_filters() -> None:
    fix = decode("id=a&lat=abc&lon=2")
    assert math.isnan(fix.latitude)


@pytest.mark.parametrize(
    ("unit", "kmh"), [("kn", 18.52), ("kmh", 10.0), ("ms", 36.0), ("mph", 16.09344)]
)
def test_speed_units(unit: str, kmh: float) -> None:
    assert decode("id=a&lat=1&lon=2&speed=10", speed_unit=unit).speed_kmh == pytest.approx(kmh)


def test_negative_speed_and_heading_mean_unknown() -> None:
    fix = decode("id=a&lat=1&lon=2&speed=-1&bearing=-1")
    assert fix.speed_kmh is None and fix.heading is None


@pytest.mark.parametrize("key", ["bearing", "heading"])
def test_heading_either_name(key: str) -> None:
    assert decode(f"id=a&lat=1&lon=2&{key}=271.5").heading == 271.5


def test_measurements_and_typed_attributes() -> None:
    fix = decode(
        "id=a&lat=1&lon=2&altitude=12.5&accuracy=4&hdop=0.9&batt=87&charge=true&valid=false"
        "&driverUniqueId=X7&sat=9&door=open&ignition=true"
    )
    assert fix.altitude_m == 12.5
    assert fix.accuracy_m == 4
    assert fix.battery_pct == 87
    assert fix.ignition is True
    assert fix.attributes == {
        "hdop": 0.9,
        "charge": True,
        "valid": False,
        "driverUniqueId": "X7",
        "sat": 9,
        "door": "open",
    }


def test_token_is_kept_apart_from_attributes() -> None:
    fix = decode("id=a&lat=1&lon=2&token=s3cret")
    assert fix.token == "s3cret"
    assert "token" not in fix.attributes


def test_json_variant() -> None:
    body = {
        "device_id": "phone-7",
        "location": {
            "timestamp": "2026-11-25T11:59:30.000Z",
            "coords": {
                "latitude": 52.1,
                "longitude": 4.3,
                "accuracy": 8,
                "speed": 10,
                "heading": 90,
                "altitude": 3,
            },
            "battery": {"level": 0.55, "is_charging": True},
            "is_moving": True,
            "odometer": 1234.5,
            "event": "motionchange",
            "extras": {"route": 12},
        },
    }
    (fix,) = osmand_from_json(body, now=NOW)
    assert fix.device_key == "phone-7"
    assert fix.fix_time == T
    assert fix.speed_kmh == pytest.approx(36.0)  # m/s in this variant
    assert fix.battery_pct == 55
    assert fix.odometer_m == 1234.5
    assert fix.attributes == {
        "is_moving": True,
        "event": "motionchange",
        "charge": True,
        "route": 12,
    }


def test_json_variant_negative_speed_and_heading_unknown() -> None:
    body = {
        "device_id": "p",
        "location": {"coords": {"latitude": 1, "longitude": 2, "speed": -1, "heading": -1}},
    }
    (fix,) = osmand_from_json(body, now=NOW)
    assert fix.speed_kmh is None and fix.heading is None and fix.fix_time == NOW


@pytest.mark.parametrize(
    "body", [[], {"location": {}}, {"device_id": "p"}, {"device_id": "p", "location": {"x": 1}}]
)
def test_json_variant_malformed(body: object) -> None:
    with pytest.raises(DecodeError):
        osmand_from_json(body, now=NOW)  # type: ignore[arg-type]


def test_batch_fix() -> None:
    fix = batch_fix(
        {
            "device_id": "d1",
            "lat": 1.5,
            "lon": 2.5,
            "timestamp": int(T.timestamp()),
            "speed_kmh": 42,
            "attributes": {"temp": -18},
        },
        now=NOW,
    )
    assert (fix.device_key, fix.latitude, fix.speed_kmh, fix.fix_time) == ("d1", 1.5, 42, T)
    assert fix.attributes == {"temp": -18}


def test_query_params_unquote_and_keep_blanks() -> None:
    params = query_params(b"id=a%20b&lat=1&lon=2&note=x+y&empty=&flag&id2=%E2%82%AC")
    assert params == {
        "id": "a b",
        "lat": "1",
        "lon": "2",
        "note": "x y",
        "empty": "",
        "flag": "",
        "id2": "\u20ac",
    }


def assert_json_safe(fix: Fix) -> None:
    """What the writer sends PostgreSQL for this fix: no NaN/Infinity, no NUL, valid Unicode."""
    payload = json.dumps(fix.as_payload(), allow_nan=False)
    assert "\\u0000" not in payload
    assert fix.attributes_json is not None and "\\u0000" not in fix.attributes_json
    json.loads(fix.attributes_json)


@pytest.mark.parametrize("raw", ["inf", "1e309", "-Infinity", "NaN", "-1e400"])
def test_non_finite_coordinate_is_refused_by_the_filters_and_its_payload_is_safe(
    raw: str,
) -> None:
    fix = decode(f"id=a&lat={raw}&lon=4.89")
    assert not math.isfinite(fix.latitude)
    refusal = fix_refusal(
        latitude=fix.latitude, longitude=fix.longitude, fix_time=fix.fix_time,
        accuracy_m=fix.accuracy_m, now=NOW, limits=Limits(), previous=None,
    )  # fmt: skip
    assert refusal is not None and refusal[0] == "invalid_coordinates"
    assert fix.as_payload()["lat"] is None
    assert_json_safe(fix)


@pytest.mark.parametrize("raw", ["inf", "1e309", "-Infinity", "NaN", "1e308"])
def test_non_finite_or_absurd_measurements_are_unknown(raw: str) -> None:
    fix = decode(
        f"id=a&lat=1&lon=2&speed={raw}&bearing={raw}&accuracy={raw}&altitude={raw}"
        f"&batt={raw}&odometer={raw}"
    )
    assert fix.refusal is None
    measured = (fix.speed_kmh, fix.heading, fix.accuracy_m, fix.altitude_m, fix.battery_pct)
    assert measured == (None, None, None, None, None)
    assert fix.odometer_m is None
    assert_json_safe(fix)


def test_out_of_range_heading_and_speed_are_unknown() -> None:
    fix = decode("id=a&lat=1&lon=2&speed=5000&bearing=361", speed_unit="kmh")
    assert (fix.speed_kmh, fix.heading) == (None, None)


def json_fix(**extras: object) -> Fix:
    body = {
        "device_id": "phone",
        "location": {"coords": {"latitude": 52.1, "longitude": 4.3}, "extras": extras},
    }
    # Through Python's JSON reader, as the endpoint does: it accepts NaN and Infinity.
    (fix,) = osmand_from_json(json.loads(json.dumps(body)), now=NOW)
    return fix


@pytest.mark.parametrize(
    ("extras", "detail"),
    [
        ({"temp": math.nan}, "not finite"),
        ({"temp": math.inf}, "not finite"),
        ({"temp": -math.inf}, "not finite"),
        ({"deep": {"er": [1, math.nan]}}, "not finite"),
        ({"note": "a\x00b"}, "NUL"),
        ({"a\x00": 1}, "NUL"),
        ({"note": "\ud800"}, "surrogate"),
        ({f"k{i}": i for i in range(MAX_ATTRIBUTE_KEYS + 1)}, "keys"),
        ({"k" * (MAX_ATTRIBUTE_KEY_LENGTH + 1): 1}, "key longer"),
        ({"note": "x" * (MAX_ATTRIBUTE_TEXT_LENGTH + 1)}, "text longer"),
        ({f"k{i}": "x" * 1000 for i in range(10)}, "bytes"),
        ({"a": [[[[[[[[[1]]]]]]]]]}, "nested deeper"),
    ],
    ids=[
        "nan", "infinity", "-infinity", "nested-nan", "nul-value", "nul-key", "surrogate",
        "too-many-keys", "long-key", "long-text", "too-large", "too-deep",
    ],
)  # fmt: skip
def test_poisoned_attributes_refuse_the_fix_with_a_reason(extras: dict, detail: str) -> None:
    fix = json_fix(**extras)
    assert fix.refusal is not None
    assert fix.refusal[0] == "invalid_value"
    assert detail in fix.refusal[1]
    assert fix.attributes == {}  # nothing poisonous travels on
    assert_json_safe(fix)
    assert fix.refusal[1].isascii() and "\x00" not in fix.refusal[1]


def test_nul_in_an_osmand_parameter_refuses_the_fix() -> None:
    fix = decode("id=a&lat=1&lon=2&driverUniqueId=x%00y")
    assert fix.refusal == ("invalid_value", "attribute text contains a NUL character")
    assert_json_safe(fix)


def test_nul_in_batch_attributes_refuses_the_fix() -> None:
    fix = batch_fix({"device_id": "d", "lat": 1, "lon": 2, "attributes": {"x": "\x00"}}, now=NOW)
    assert fix.refusal is not None and fix.refusal[0] == "invalid_value"


def test_clean_attributes_are_encoded_once_for_the_writer() -> None:
    fix = json_fix(route=12, tags=["a", "é"], nested={"ok": True})
    assert fix.refusal is None
    assert json.loads(fix.attributes_json or "") == {
        "route": 12, "tags": ["a", "é"], "nested": {"ok": True},
    }  # fmt: skip
