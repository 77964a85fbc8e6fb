"""The live map's browser code, without a server or a database.

bench/map_page.py serves the real `content` block of console/map.html, the static/js/live_map/
modules and Leaflet from a local http.server (with in-memory fakes for saved views, the road
network and the vehicle details fragment); frames go in through window.doorstepMap.applyMessage,
the function the websocket handler calls. The end-to-end test with Daphne and a real socket
lives elsewhere.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import threading
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from bench.map_page import MapPageServer, map_config

from .conftest import SCREENSHOT_DIR

pytestmark = pytest.mark.browser

VIEWPORT: ViewportSize = {"width": 1920, "height": 1080}


def vehicle(
    vehicle_id: int,
    plate: str,
    *,
    lat: float,
    lon: float,
    status: str = "moving",
    driver: str = "",
    speed: float | None = 32.0,
    heading: float | None = 90.0,
    age_s: float = 5,
    hub_id: int = 1,
    tags: tuple[str, ...] = (),
) -> dict[str, Any]:
    fix = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age_s)
    return {
        "id": vehicle_id,
        "plate": plate,
        "name": f"Van {vehicle_id}",
        "hub_id": hub_id,
        "hub": "Amsterdam West" if hub_id == 1 else "Amsterdam Noord",
        "driver": driver,
        "device": f"trk-{vehicle_id:04d}",
        "tags": list(tags),
        "lat": lat,
        "lon": lon,
        "speed_kmh": speed,
        "heading": heading,
        "status": status,
        "fix_time": fix.isoformat(),
        "battery_pct": 80,
    }


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def three() -> list[dict[str, Any]]:
    """Three vehicles whose ages count from now (a module-level list would age with a slow run)."""
    return [
        vehicle(1, "KX-204-B", lat=52.3702, lon=4.8952, driver="Noor Visser", age_s=4),
        vehicle(
            2,
            "AB-017-Z",
            lat=52.3600,
            lon=4.8700,
            status="idle",
            driver="Daan Smit",
            speed=0,
            age_s=40,
        ),
        vehicle(
            3,
            "GT-550-N",
            lat=52.3820,
            lon=4.9200,
            status="stopped",
            driver="Emma de Boer",
            speed=0,
            heading=None,
            age_s=420,
            hub_id=2,
            tags=("cold",),
        ),
    ]


@pytest.fixture(scope="module")
def map_server() -> Iterator[MapPageServer]:
    with MapPageServer() as server:
        yield server


@pytest.fixture
def map_page(chromium: Browser, map_server: MapPageServer) -> Iterator[Page]:
    context = chromium.new_context(viewport=VIEWPORT)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(map_server.url("/map/"))
    page.wait_for_function("window.doorstepMap && window.doorstepMap.layer")
    yield page
    context.close()
    assert errors == []


def apply(page: Page, message: dict[str, Any]) -> None:
    page.evaluate("message => window.doorstepMap.applyMessage(message)", message)


def apply_and_paint(page: Page, message: dict[str, Any]) -> None:
    """Apply a frame and wait until the vehicle layer has drawn it."""
    page.evaluate(
        """message => new Promise(resolve => {
            window.doorstepMap.onPainted = () => { window.doorstepMap.onPainted = null; resolve(); };
            window.doorstepMap.applyMessage(message);
        })""",
        message,
    )


def rows(page: Page):
    return page.locator("#vehicle-list [data-vehicle-id]")


def test_snapshot_update_and_removal_reach_list_and_store(
    map_page: Page, map_server: MapPageServer
) -> None:
    page = map_page
    expect(page.locator("#map-loading")).to_be_visible()

    apply_and_paint(page, {"type": "snapshot", "vehicles": three(), "server_time": now_iso()})

    expect(rows(page)).to_have_count(3)
    expect(page.locator("#map-loading")).to_be_hidden()
    expect(page.locator("#connection-state")).to_have_attribute("data-connection-state", "live")
    expect(page.locator("#vehicle-count")).to_have_text("3")
    # Sorted by plate, with the contract's data on each row.
    plates = rows(page).evaluate_all("rows => rows.map(row => row.dataset.plate)")
    assert plates == ["AB-017-Z", "GT-550-N", "KX-204-B"]
    row = page.locator('#vehicle-list [data-vehicle-id="3"]')
    expect(row).to_contain_text("Emma de Boer")
    expect(row).to_contain_text("Stopped")
    expect(row).to_contain_text("7 min")
    expect(page.locator('[data-status-count="moving"]')).to_have_text("1")
    expect(page.locator('[data-status-count="idle"]')).to_have_text("1")
    assert page.evaluate("window.doorstepMap.layer.drawnCount()") == 3

    moved = dict(three()[0], lat=52.3755, lon=4.9031, speed_kmh=41.0, fix_time=now_iso())
    # Updates leave out the descriptive fields that did not change (docs/live-map.md).
    moving = ("id", "lat", "lon", "speed_kmh", "heading", "status", "fix_time", "battery_pct")
    compact = {key: moved[key] for key in moving}
    apply_and_paint(
        page, {"type": "update", "vehicles": [compact], "removed": [2], "server_time": now_iso()}
    )

    expect(rows(page)).to_have_count(2)
    expect(page.locator('#vehicle-list [data-vehicle-id="2"]')).to_have_count(0)
    expect(page.locator('#vehicle-list [data-vehicle-id="1"] .lm-row__speed')).to_have_text("41")
    store = page.evaluate(
        """() => {
            const vehicles = window.doorstepMap.vehicles;
            const one = vehicles.get(1);
            return {size: vehicles.size, ids: [...vehicles.keys()].sort(), lat: one.lat,
                    lon: one.lon, speed: one.speed_kmh, plate: one.plate, driver: one.driver,
                    drawn: window.doorstepMap.layer.drawnCount()};
        }"""
    )
    assert store == {
        "size": 2,
        "ids": [1, 3],
        "lat": 52.3755,
        "lon": 4.9031,
        "speed": 41.0,
        "plate": "KX-204-B",
        "driver": "Noor Visser",
        "drawn": 2,
    }
    assert page.evaluate("window.doorstepMap.paintedFrames") >= 2

    # A row opens the vehicle's details (the server's fragment) and highlights itself.
    map_server.vehicles[1] = moved
    page.locator('#vehicle-list [data-vehicle-id="1"]').click()
    details = page.locator("#vehicle-details")
    expect(details).to_be_visible()
    expect(page.locator("#vehicle-details-plate")).to_have_text("KX-204-B")
    expect(details.locator(".vehicle-detail")).to_contain_text("trk-0001")
    # Server-side times are the organization's too, labelled like the connection pill's clock.
    expect(details.locator(".vehicle-detail")).to_contain_text(re.compile(r"\d\d:\d\d:\d\d CES?T"))
    expect(page.locator('#vehicle-list [data-vehicle-id="1"]')).to_have_class(
        re.compile(r"\bis-selected\b")
    )

    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / "live_map_unit.png"))

    page.locator("#vehicle-details-close").click()
    expect(details).to_be_hidden()


def test_clicking_a_vehicle_on_the_map_selects_its_row(map_page: Page) -> None:
    page = map_page
    apply_and_paint(page, {"type": "snapshot", "vehicles": three(), "server_time": now_iso()})
    expect(rows(page)).to_have_count(3)

    point = page.evaluate("window.doorstepMap.layer.pointOf(3)")
    box = page.locator("#map").bounding_box()
    assert point is not None and box is not None
    page.mouse.click(box["x"] + point["x"] + 2, box["y"] + point["y"] - 2)

    expect(page.locator('#vehicle-list [data-vehicle-id="3"]')).to_have_class(
        re.compile(r"\bis-selected\b")
    )
    expect(page.locator("#vehicle-details-plate")).to_have_text("GT-550-N")
    # Far from every vehicle, a click selects nothing new.
    page.mouse.click(box["x"] + 40, box["y"] + box["height"] - 200)
    expect(page.locator("#vehicle-details-plate")).to_have_text("GT-550-N")

    # After an animated zoom and a pan, dots are still where Leaflet puts those coordinates.
    page.locator(".leaflet-control-zoom-in").click()
    page.wait_for_function("window.doorstepMap.map.getZoom() === 13")
    page.mouse.move(box["x"] + 500, box["y"] + 500)
    page.mouse.down()
    page.mouse.move(box["x"] + 380, box["y"] + 430, steps=5)
    page.mouse.up()
    page.evaluate(
        """() => new Promise(resolve => {
            window.doorstepMap.onPainted = () => { window.doorstepMap.onPainted = null; resolve(); };
            window.doorstepMap.layer.redraw();
        })"""
    )
    offsets = page.evaluate(
        """() => [1, 2, 3].map(id => {
            const {map, layer, vehicles} = window.doorstepMap;
            const v = vehicles.get(id);
            const drawn = layer.pointOf(id);
            const leaflet = map.latLngToContainerPoint([v.lat, v.lon]);
            return Math.hypot(drawn.x - leaflet.x, drawn.y - leaflet.y);
        })"""
    )
    assert max(offsets) < 1.0, offsets


def test_the_details_body_follows_the_live_frames(
    map_page: Page, map_server: MapPageServer
) -> None:
    page = map_page
    vehicles = three()
    map_server.vehicles = {v["id"]: v for v in vehicles}
    apply(page, {"type": "snapshot", "vehicles": vehicles, "server_time": now_iso()})
    page.locator('#vehicle-list [data-vehicle-id="1"]').click()
    body = page.locator("#vehicle-details-body")
    expect(body.locator('[data-live="speed"]')).to_have_text("32 km/h")
    expect(body.locator('[data-live="position"]')).to_have_text("52.37020, 4.89520")
    # No route endpoint in this page's config: the route section says so plainly.
    expect(body.locator("[data-vehicle-route]")).to_contain_text("No route today")

    # One frame later (the fragment is not fetched again for 10 s), the body shows the frame.
    moved = vehicle(1, "KX-204-B", lat=52.3711, lon=4.8973, driver="Noor Visser", speed=48,
                    heading=180, status="moving", age_s=0)  # fmt: skip
    moved["battery_pct"] = 64
    moving = ("id", "lat", "lon", "speed_kmh", "heading", "status", "fix_time", "battery_pct")
    frame = {key: moved[key] for key in moving}
    apply(page, {"type": "update", "vehicles": [frame], "server_time": now_iso()})
    expect(body.locator('[data-live="speed"]')).to_have_text("48 km/h")
    expect(body.locator('[data-live="heading"]')).to_have_text("180°")
    expect(body.locator('[data-live="position"]')).to_have_text("52.37110, 4.89730")
    expect(body.locator('[data-live="battery"]')).to_have_text("64%")
    expect(page.locator("#vehicle-details-pulse")).to_contain_text("48 km/h")
    stopped = dict(frame, status="stopped", speed_kmh=0)
    apply(page, {"type": "update", "vehicles": [stopped], "server_time": now_iso()})
    expect(body.locator('[data-live="status"]')).to_have_text("Stopped")
    expect(body.locator('[data-live="status"]')).to_have_class(re.compile(r"\bstatus-stopped\b"))
    expect(page.locator("#vehicle-details-status")).to_have_text("Stopped")


def test_filters_make_the_subscription_and_empty_state_clears_them(map_page: Page) -> None:
    page = map_page
    apply(page, {"type": "snapshot", "vehicles": three(), "server_time": now_iso()})

    form = page.locator("#map-filters")
    form.locator('input[name="status"][value="offline"]').uncheck()
    form.locator('input[name="hubs"][value="2"]').check()
    form.locator('input[name="tags"][value="cold"]').check()
    form.locator('select[name="stale_minutes"]').select_option("10")
    form.locator('select[name="zone"]').select_option("11")
    form.locator('select[name="interval"]').select_option("5")
    form.locator('input[name="q"]').fill("  gt-5 ")

    expected = {
        "type": "subscribe",
        "filters": {
            "status": ["moving", "idle", "stopped"],
            "hubs": [2],
            "zone": 11,
            "stale_minutes": 10,
            "tags": ["cold"],
            "q": "gt-5",
        },
        "interval": 5,
    }
    page.wait_for_function(
        "expected => JSON.stringify(window.doorstepMap.subscription()) === JSON.stringify(expected)",
        arg=expected,
    )
    expect(page.locator("#filters-active")).to_have_text("6 filters on")

    # Drawing an area replaces the zone: click three corners, double-click to finish.
    page.locator("#draw-area").click()
    expect(page.locator("#draw-hint")).to_be_visible()
    box = page.locator("#map").bounding_box()
    assert box is not None
    corners = [(300, 300), (600, 320), (450, 600)]
    for x, y in corners:
        page.mouse.click(box["x"] + x, box["y"] + y)
    page.mouse.dblclick(box["x"] + 320, box["y"] + 560)
    expect(page.locator("#draw-hint")).to_be_hidden()
    filters = page.evaluate("window.doorstepMap.filters()")
    assert "zone" not in filters
    ring = filters["polygon"]["coordinates"][0]
    assert filters["polygon"]["type"] == "Polygon"
    assert len(ring) == 5 and ring[0] == ring[-1]
    expect(page.locator("#clear-area")).to_be_enabled()

    # Nothing matches: the empty state offers to clear the filters.
    apply(page, {"type": "snapshot", "vehicles": [], "server_time": now_iso()})
    expect(page.get_by_text("No vehicles match these filters")).to_be_visible()
    expect(rows(page)).to_have_count(0)
    page.locator("#empty-clear-filters").click()
    assert page.evaluate("window.doorstepMap.filters()") == {}
    expect(page.locator("#filters-active")).to_have_text("No filters")
    # The refresh interval is not a filter: it stays.
    assert page.evaluate("window.doorstepMap.subscription().interval") == 5


def test_saved_views_save_switch_make_default_and_delete(
    map_page: Page, map_server: MapPageServer
) -> None:
    page = map_page
    apply(page, {"type": "snapshot", "vehicles": three(), "server_time": now_iso()})
    page.locator('#map-filters input[name="tags"][value="express"]').check()

    page.locator("#save-view").click()
    expect(page.locator("#view-name")).to_be_focused()
    page.locator("#view-name").fill("Express vans")
    page.locator("#view-shared").check()
    page.locator("#view-save-confirm").click()

    expect(page.locator("#view-dialog")).to_be_hidden()
    select = page.locator("#saved-view-select")
    expect(select.locator("option:checked")).to_have_text("Express vans (shared)")
    created = next(body for method, path, body in map_server.requests if path == "/map/views/")
    assert created == {
        "name": "Express vans",
        "shared": True,
        "filters": {"tags": ["express"]},
        "refresh_seconds": 1,
        "make_default": False,
    }
    mine = next(v for v in map_server.views if v["name"] == "Express vans")

    # Switching to the team's view puts its filters and interval on screen.
    select.select_option(label="Noord: late vans")
    expect(page.locator('#map-filters input[name="hubs"][value="2"]')).to_be_checked()
    expect(page.locator('#map-filters select[name="stale_minutes"]')).to_have_value("10")
    expect(page.locator('#map-filters select[name="interval"]')).to_have_value("5")
    expect(page.locator("#view-delete")).to_be_disabled()  # not mine
    page.locator("#view-make-default").click()
    expect(select.locator("option:checked")).to_have_text("★ Noord: late vans")
    assert ("POST", "/map/views/1/", {"make_default": True}) in map_server.requests

    # Changing a filter marks the view as modified.
    page.locator('#map-filters input[name="status"][value="idle"]').uncheck()
    expect(page.locator("#view-modified")).to_be_visible()

    select.select_option(str(mine["id"]))
    expect(page.locator("#view-modified")).to_be_hidden()
    page.locator("#view-delete").click()
    expect(page.locator("#map-toast")).to_contain_text("Deleted view “Express vans”")
    expect(select.locator("option", has_text="Express vans")).to_have_count(0)
    assert ("DELETE", f"/map/views/{mine['id']}/", None) in map_server.requests


def test_the_screen_lives_in_the_url_and_a_shared_view_opens_unmodified(
    chromium: Browser,
) -> None:
    # A teammate's view as this user cannot show it verbatim: a hub outside this user's hubs and
    # the zone id as a string. It must still open unmodified.
    shared = {
        "id": 7,
        "name": "Team: Noord",
        "shared": True,
        "mine": False,
        "filters": {"hubs": [2, 99], "zone": "11"},
        "refresh_seconds": 5,
        "is_default": False,
    }
    with MapPageServer(map_config(savedViews=[shared])) as server:
        context = chromium.new_context(viewport=VIEWPORT)
        context.set_default_timeout(10_000)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(server.url("/map/?view=7"))
        page.wait_for_function("window.doorstepMap && window.doorstepMap.layer")
        select = page.locator("#saved-view-select")
        form = page.locator("#map-filters")
        expect(select.locator("option:checked")).to_have_text("Team: Noord")
        expect(form.locator('input[name="hubs"][value="2"]')).to_be_checked()
        expect(form.locator('select[name="zone"]')).to_have_value("11")
        expect(page.locator("#view-modified")).to_be_hidden()

        # Every change goes into the query string; a reload brings the same screen back.
        form.locator('input[name="tags"][value="cold"]').check()
        expect(page.locator("#view-modified")).to_be_visible()
        page.wait_for_function("location.search.includes('tags=cold')")
        page.reload()
        page.wait_for_function("window.doorstepMap && window.doorstepMap.layer")
        expect(select.locator("option:checked")).to_have_text("Team: Noord")
        expect(form.locator('input[name="tags"][value="cold"]')).to_be_checked()
        expect(form.locator('input[name="hubs"][value="2"]')).to_be_checked()
        expect(form.locator('select[name="interval"]')).to_have_value("5")
        expect(page.locator("#view-modified")).to_be_visible()

        # An unsaved screen, shared as a link, opens the same way in another browser.
        select.select_option("")
        form.locator('input[name="status"][value="offline"]').uncheck()
        form.locator('input[name="q"]').fill("kx-2")
        page.wait_for_function("location.search.includes('q=kx-2')")
        link = page.url
        assert "view=" not in link
        other = context.new_page()
        other.goto(link)
        other.wait_for_function("window.doorstepMap && window.doorstepMap.layer")
        assert other.evaluate("window.doorstepMap.filters()") == page.evaluate(
            "window.doorstepMap.filters()"
        )
        assert other.evaluate("window.doorstepMap.subscription()") == {
            "type": "subscribe",
            "filters": {
                "status": ["moving", "idle", "stopped"],
                "hubs": [2],
                "zone": 11,
                "tags": ["cold"],
                "q": "kx-2",
            },
            "interval": 5,
        }

        # The connection pill's clock is the organization's (Europe/Amsterdam), labelled.
        apply(other, {"type": "snapshot", "vehicles": three(), "server_time": now_iso()})
        clock = other.locator("#last-frame")
        expect(clock).to_have_text(re.compile(r"^\d\d:\d\d:\d\d CES?T$"))
        amsterdam = dt.datetime.now(ZoneInfo("Europe/Amsterdam"))
        shown = clock.text_content() or ""
        minutes = {(amsterdam - dt.timedelta(minutes=delta)).strftime("%H:%M") for delta in (0, 1)}
        assert shown[:5] in minutes, (shown, minutes)
        context.close()
    assert errors == []


class FakeLiveSocket:
    """A websocket server that speaks the live-map protocol: answers every subscribe with a
    snapshot, and drops the first connection when told to (`drop.set()`)."""

    def __init__(self) -> None:
        self.drop = threading.Event()
        self.subscribes: list[dict[str, Any]] = []
        self.connections = 0
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Future[None] | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _handler(self, socket: Any) -> None:
        self.connections += 1
        first = self.connections == 1
        async for raw in socket:
            self.subscribes.append(json.loads(raw))
            vehicles = three() if first else three()[:1]
            await socket.send(
                json.dumps({"type": "snapshot", "vehicles": vehicles, "server_time": now_iso()})
            )
            if first:
                assert self._loop is not None
                await self._loop.run_in_executor(None, self.drop.wait, 10)
                await socket.close(code=1011, reason="server restart")
                return

    async def _serve(self) -> None:
        from websockets.asyncio.server import serve

        self._loop = asyncio.get_running_loop()
        self._stop = self._loop.create_future()
        async with serve(self._handler, "127.0.0.1", 0) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            self._ready.set()
            await self._stop

    def __enter__(self) -> FakeLiveSocket:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set_result, None)
        self._thread.join(5)


def test_socket_reconnects_and_subscribes_again(chromium: Browser) -> None:
    with (
        FakeLiveSocket() as live,
        MapPageServer(map_config(wsPath=f"ws://127.0.0.1:{live.port}/ws/live/")) as server,
    ):
        context = chromium.new_context(viewport=VIEWPORT)
        page = context.new_page()
        page.goto(server.url("/map/"))
        indicator = page.locator("#connection-state")
        # Record every state the indicator goes through.
        page.evaluate(
            """() => {
                const element = document.getElementById("connection-state");
                const states = (window.connectionStates = [element.dataset.connectionState]);
                new MutationObserver(() => {
                    const state = element.dataset.connectionState;
                    if (states[states.length - 1] !== state) states.push(state);
                }).observe(element, {attributes: true});
            }"""
        )

        expect(rows(page)).to_have_count(3)
        expect(indicator).to_have_attribute("data-connection-state", "live")

        # The server drops the socket: the page keeps what it shows, retries after 1 s with the
        # same subscription, and the fresh snapshot replaces the list.
        live.drop.set()
        expect(rows(page)).to_have_count(1)
        expect(indicator).to_have_attribute("data-connection-state", "live")
        expect(page.locator("#map-error")).to_be_hidden()
        states = page.evaluate("window.connectionStates")
        assert states[states.index("live") :] == ["live", "reconnecting", "live"]
        context.close()

    assert live.connections == 2
    assert len(live.subscribes) == 2
    assert (
        live.subscribes[0]
        == live.subscribes[1]
        == {
            "type": "subscribe",
            "filters": {},
            "interval": 1,
        }
    )
