"""The design system of static/css/doorstep.css: every component on one specimen page.

Its screenshot is for people; its assertions pin the rule that a status colour means the same
thing on every component (a tone class must win over each component's neutral default).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from string import Template

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

SPECIMEN = Template((Path(__file__).parent / "design_system_specimen.html").read_text())

VEHICLE_STATES = {
    "moving": "rgb(22, 163, 74)",
    "idle": "rgb(217, 119, 6)",
    "stopped": "rgb(37, 99, 235)",
    "offline": "rgb(107, 114, 128)",
}
SEVERITIES = {
    "critical": "rgb(220, 38, 38)",
    "warning": "rgb(217, 119, 6)",
    "info": "rgb(37, 99, 235)",
}
DELIVERY_STATUSES = (
    "created",
    "assigned",
    "out_for_delivery",
    "arrived",
    "delivered",
    "failed",
    "returned",
    "cancelled",
)


def design_system_specimen(stylesheet_url: str) -> str:
    """A page of every component of doorstep.css, to look at and to check the status colours."""
    vehicle_badges = "".join(
        f'<span class="badge status-{name}">{name.title()}</span>' for name in VEHICLE_STATES
    )
    vehicle_dots = "".join(
        f'<li><span class="dot status-{name}" data-testid="dot-{name}"></span>{name.title()}</li>'
        for name in VEHICLE_STATES
    )
    severity_badges = "".join(
        f'<span class="badge severity-{name}" data-testid="severity-{name}">{name.title()}</span>'
        for name in SEVERITIES
    )
    delivery_badges = "".join(
        f'<span class="badge delivery-{name}">{name.replace("_", " ").capitalize()}</span>'
        for name in DELIVERY_STATUSES
    )
    rows = "".join(
        f'<tr class="status-{state}"><td class="mono">NL-{index:03d}-X</td><td>Hub West</td>'
        f'<td><span class="badge status-{state}">{state.title()}</span></td>'
        f'<td class="num">{index * 7 % 60} km/h</td><td class="num">{index}m ago</td></tr>'
        for index, state in enumerate(VEHICLE_STATES, start=1)
    )
    return SPECIMEN.substitute(
        stylesheet_url=stylesheet_url,
        vehicle_badges=vehicle_badges,
        vehicle_dots=vehicle_dots,
        severity_badges=severity_badges,
        delivery_badges=delivery_badges,
        rows=rows,
    )


def test_status_colours_mean_the_same_on_every_component(
    page: Page, live_server: object, screenshot: Callable[[Page, str], Path]
) -> None:
    page.set_content(design_system_specimen(f"{live_server}/static/css/doorstep.css"))

    # Tone classes win over every component's neutral default, on dots and badges alike.
    for name, colour in VEHICLE_STATES.items():
        expect(page.get_by_test_id(f"dot-{name}")).to_have_css("background-color", colour)
    for name, colour in SEVERITIES.items():
        badge_dot = page.get_by_test_id(f"severity-{name}").evaluate(
            "el => getComputedStyle(el, '::before').backgroundColor"
        )
        assert badge_dot == colour
    root_moving = page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--status-moving').trim()"
    )
    assert root_moving == "#16a34a"
    page.set_viewport_size({"width": 1600, "height": 1100})
    screenshot(page, "design_system")
