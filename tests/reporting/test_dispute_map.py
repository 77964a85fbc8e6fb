"""The packet map's pure parts: clipping the trail to a panel, the scale bar, the fit, and
labels that do not sit on each other."""

from __future__ import annotations

import pytest
from reportlab.graphics.shapes import Group, String

from reporting.dispute.trail_map import (
    LabelPlacer,
    clip_segment,
    clipped_runs,
    projection_fit,
    scale_bar_metres,
)

BOX = (0.0, 0.0, 10.0, 10.0)


def test_a_segment_is_cut_at_the_box() -> None:
    assert clip_segment((-5, 5), (5, 5), BOX) == ((0, 5), (5, 5))
    assert clip_segment((2, 2), (3, 3), BOX) == ((2, 2), (3, 3))
    assert clip_segment((-5, -5), (-1, 20), BOX) is None
    assert clip_segment((-5, 5), (15, 5), BOX) == ((0, 5), (10, 5))


def test_a_trail_that_leaves_and_comes_back_is_two_runs() -> None:
    runs = clipped_runs([(2, 2), (5, 5), (20, 5), (20, 8), (5, 8)], BOX)
    assert runs == [[(2, 2), (5, 5), (10, 5)], [(10, 8), (5, 8)]]


@pytest.mark.parametrize(
    ("per_metre", "room", "bar"), [(1.0, 120, 100), (0.1, 120, 1000), (0.05, 40, 500), (10, 5, 10)]
)
def test_the_scale_bar_is_the_longest_round_length_that_fits(
    per_metre: float, room: float, bar: int
) -> None:
    assert scale_bar_metres(per_metre, room) == bar


def test_one_point_is_shown_at_the_minimum_span_in_the_middle() -> None:
    projection = projection_fit([(52.37, 4.89)], 300, 200, margin=0, min_span_m=300)
    assert projection.point(52.37, 4.89) == pytest.approx((150, 100))
    assert projection.scale == pytest.approx(200 / 300)


def test_labels_around_one_place_do_not_overlap() -> None:
    group, placer = Group(), LabelPlacer()
    placer.block(50, 50, 5)
    for label in ("Address", "Arrived and departed", "Proof captured"):
        placer.place(group, 50, 50, label, None)  # type: ignore[arg-type]
    boxes = placer.taken[1:]
    assert len(boxes) == 3
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])
    assert [item.text for item in group.contents if isinstance(item, String)] == [
        "Address",
        "Arrived and departed",
        "Proof captured",
    ]
