"""The live-map page without the Django server, for the map benchmark and the map's UI test.

`MapPageServer` is a tiny threaded http.server on 127.0.0.1 that serves

* `/map/`: bench/assets/map_bench.html with the real `content` block of
  console/templates/console/map.html rendered into it (Django's template engine only: no
  database, no URLconf), under a top bar that looks like the console's;
* `/static/...` and `/bench/assets/...` straight from the repository;
* the page's JSON and HTML side doors with in-memory fakes: the demo road network
  (demo.simulator.roads, pure Python), saved views, and the vehicle details fragment
  (the real fleet/_vehicle_detail.html, fed with plain objects).

The config's `wsPath` is empty, so static/js/live_map/ opens no socket: frames are applied through
`window.doorstepMap.applyMessage(msg)`, the function the socket handler calls.
"""

from __future__ import annotations

import datetime as dt
import json
import mimetypes
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
ASSETS_DIR = REPO_ROOT / "bench" / "assets"
STATIC_DIR = REPO_ROOT / "static"

HUBS = [
    {"id": 1, "name": "Amsterdam West", "lat": 52.3731, "lon": 4.8432},
    {"id": 2, "name": "Amsterdam Noord", "lat": 52.3946, "lon": 4.9184},
    {"id": 3, "name": "Amsterdam Zuidoost", "lat": 52.3169, "lon": 4.9572},
    {"id": 4, "name": "Amstelveen", "lat": 52.3032, "lon": 4.8606},
]
TAGS = ["bulky", "cold", "ev", "express", "pharma"]
# The demo organization's zone: the page's clocks and the details fragment both use it.
ORGANIZATION_TIMEZONE = "Europe/Amsterdam"


def _ring(points: list[tuple[float, float]]) -> list[list[float]]:
    ring = [[lon, lat] for lat, lon in points]
    return [*ring, ring[0]]


ZONES: dict[str, Any] = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": 11,
            "properties": {
                "name": "Centrum low-emission",
                "kind": "restricted",
                "color": "#dc2626",
            },
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    _ring(
                        [
                            (52.3800, 4.8810),
                            (52.3815, 4.9050),
                            (52.3700, 4.9170),
                            (52.3600, 4.9080),
                            (52.3595, 4.8860),
                            (52.3690, 4.8760),
                        ]
                    )
                ],
            },
        },
        {
            "type": "Feature",
            "id": 12,
            "properties": {
                "name": "Westpoort service area",
                "kind": "service_area",
                "color": "#0891b2",
            },
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    _ring(
                        [(52.3950, 4.8000), (52.3950, 4.8500), (52.3780, 4.8560), (52.3760, 4.8050)]
                    )
                ],
            },
        },
        {
            "type": "Feature",
            "id": 13,
            "properties": {"name": "Arena geofence", "kind": "geofence", "color": "#7c3aed"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    _ring(
                        [(52.3180, 4.9300), (52.3180, 4.9480), (52.3090, 4.9480), (52.3090, 4.9300)]
                    )
                ],
            },
        },
    ],
}


def map_config(**overrides: Any) -> dict[str, Any]:
    """A map_config as the map view builds it (docs/live-map.md), for the demo hubs."""
    config: dict[str, Any] = {
        "wsPath": "",  # no socket: frames arrive through window.doorstepMap.applyMessage
        "tileUrl": "",
        "tileAttribution": "",
        "center": [52.352, 4.895],
        "zoom": 12,
        "hubs": HUBS,
        "zones": ZONES,
        "tags": TAGS,
        "roadsUrl": "/map/roads.geojson",
        "savedViews": [
            {
                "id": 1,
                "name": "Noord: late vans",
                "shared": True,
                "mine": False,
                "filters": {"hubs": [2], "stale_minutes": 10},
                "refresh_seconds": 5,
                "is_default": False,
            }
        ],
        "viewsUrl": "/map/views/",
        "viewUrlTemplate": "/map/views/0/",
        "vehicleUrlTemplate": "/map/vehicles/0/",
    }
    config.update(overrides)
    return config


# ---- Django templates, without a project --------------------------------------------------------


def _template_engine() -> Any:
    """Django's template engine: the project's when settings are configured (pytest-django),
    else a minimal one over the repository's template folders."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            USE_TZ=True,
            TIME_ZONE="UTC",
            INSTALLED_APPS=[],
            STATIC_URL="/static/",
            ROOT_URLCONF="bench.map_urls",  # names the template reverses (data health)
            TEMPLATES=[
                {
                    "BACKEND": "django.template.backends.django.DjangoTemplates",
                    "DIRS": [
                        REPO_ROOT / "templates",
                        REPO_ROOT / "console" / "templates",
                        REPO_ROOT / "fleet" / "templates",
                    ],
                }
            ],
        )
        django.setup()
    from django.template import engines

    return engines["django"]


def render_map_content(config: dict[str, Any]) -> str:
    """The `content` block of console/map.html, rendered with this map_config."""
    from django.template import Context
    from django.template.loader_tags import BlockNode

    template = _template_engine().get_template("console/map.html").template
    for node in template.nodelist.get_nodes_by_type(BlockNode):
        if node.name == "content":
            organization = SimpleNamespace(timezone=ORGANIZATION_TIMEZONE)
            context = Context(
                {"map_config": config, "section": "map", "organization": organization}
            )
            with context.bind_template(template):
                return node.nodelist.render(context)
    raise LookupError("console/map.html has no content block")


TOPBAR = """
<header class="topbar">
  <a class="brand" href="/map/" aria-label="Doorstep home">{% include "includes/brand_mark.html" %}<span>Doorstep</span></a>
  <nav class="topbar__nav" aria-label="Main">
    <a class="topbar__link is-active" href="/map/" aria-current="page">{% include "includes/icon.html" with name="map" %}Map</a>
    <a class="topbar__link" href="#">{% include "includes/icon.html" with name="orders" %}Orders</a>
    <a class="topbar__link" href="#">{% include "includes/icon.html" with name="alerts" %}Alerts</a>
    <a class="topbar__link" href="#">{% include "includes/icon.html" with name="dashboards" %}Dashboards</a>
  </nav>
  <div class="topbar__spacer"></div>
  <div class="topbar__meta">
    <span class="org">{% include "includes/icon.html" with name="organization" %}Amsterdam Express</span>
    <span class="topbar__divider" aria-hidden="true"></span>
    <span class="user"><span class="avatar" aria-hidden="true">DV</span><span class="user__name">Dana Visser</span><span class="role-badge">Dispatcher</span></span>
  </div>
</header>
"""


def render_page(config: dict[str, Any]) -> str:
    page = (ASSETS_DIR / "map_bench.html").read_text()
    topbar = _template_engine().from_string(TOPBAR).render({})
    return page.replace("<!-- TOPBAR -->", topbar).replace(
        "<!-- MAP_CONTENT -->", render_map_content(config)
    )


def render_vehicle_fragment(vehicle: dict[str, Any]) -> str:
    """fleet/_vehicle_detail.html for a contract-shaped vehicle dict (`V`)."""
    fix_time = vehicle.get("fix_time")
    state = None
    if vehicle.get("lat") is not None and fix_time:
        state = SimpleNamespace(
            status=vehicle.get("status", "offline"),
            get_status_display=str(vehicle.get("status", "offline")).capitalize(),
            speed_kmh=vehicle.get("speed_kmh"),
            heading=vehicle.get("heading"),
            fix_time=dt.datetime.fromisoformat(str(fix_time).replace("Z", "+00:00")),
            latitude=vehicle["lat"],
            longitude=vehicle["lon"],
            battery_pct=vehicle.get("battery_pct"),
        )
    driver = SimpleNamespace(name=vehicle.get("driver") or "", phone="+31 6 1234 5678")
    fake = SimpleNamespace(
        pk=vehicle["id"],
        plate=vehicle.get("plate", ""),
        name=vehicle.get("name", ""),
        get_type_display="Van",
        driver=driver,
        hub=SimpleNamespace(name=vehicle.get("hub", "")),
        device=SimpleNamespace(identifier=vehicle.get("device", "")),
        tags=vehicle.get("tags") or [],
    )
    organization = SimpleNamespace(timezone=ORGANIZATION_TIMEZONE)
    template = _template_engine().get_template("fleet/_vehicle_detail.html")
    return template.render({"vehicle": fake, "state": state, "organization": organization})


# ---- the server ---------------------------------------------------------------------------------


class MapPageServer:
    """`with MapPageServer() as server: page.goto(server.url("/map/"))`."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = config or map_config()
        self.vehicles: dict[int, dict[str, Any]] = {}  # for the details fragment
        self.views: list[dict[str, Any]] = [dict(v) for v in self.config.get("savedViews", [])]
        self.requests: list[tuple[str, str, Any]] = []  # (method, path, JSON body) of API calls
        self._lock = threading.Lock()
        self._page = render_page(self.config)
        self._roads: bytes | None = None
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def url(self, path: str = "/map/") -> str:
        port = self._httpd.server_address[1]
        return f"http://127.0.0.1:{port}{path}"

    def __enter__(self) -> MapPageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def roads(self) -> bytes:
        if self._roads is None:
            from demo.simulator.roads import roads_geojson

            hubs = [(hub["lat"], hub["lon"]) for hub in self.config["hubs"]]
            self._roads = json.dumps(roads_geojson(hubs)).encode()
        return self._roads

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, data: Any) -> None:
                self._send(status, json.dumps(data).encode(), "application/json")

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                return json.loads(raw or b"{}")

            def _file(self, root: Path, relative: str) -> None:
                path = (root / relative).resolve()
                if not path.is_relative_to(root) or not path.is_file():
                    self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
                    return
                content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                if content_type.startswith("text/") or content_type.endswith("javascript"):
                    content_type += "; charset=utf-8"
                self._send(HTTPStatus.OK, path.read_bytes(), content_type)

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path in ("/", "/map/"):
                    self._send(HTTPStatus.OK, server._page.encode(), "text/html; charset=utf-8")
                elif path.startswith("/static/"):
                    self._file(STATIC_DIR, path.removeprefix("/static/"))
                elif path.startswith("/bench/assets/"):
                    self._file(ASSETS_DIR, path.removeprefix("/bench/assets/"))
                elif path == "/map/roads.geojson":
                    self._send(HTTPStatus.OK, server.roads(), "application/geo+json")
                elif match := re.fullmatch(r"/map/vehicles/(\d+)/", path):
                    vehicle = server.vehicles.get(int(match[1]))
                    if vehicle is None:
                        self._send(HTTPStatus.NOT_FOUND, b"No such vehicle.", "text/plain")
                    else:
                        html = render_vehicle_fragment(vehicle).encode()
                        self._send(HTTPStatus.OK, html, "text/html; charset=utf-8")
                elif path == "/map/views/":
                    self._json(HTTPStatus.OK, {"views": server.views})
                else:
                    self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")

            def do_POST(self) -> None:
                path = self.path.split("?", 1)[0]
                body = self._body()
                with server._lock:
                    server.requests.append(("POST", path, body))
                    if path == "/map/views/":
                        if not str(body.get("name", "")).strip():
                            self._json(HTTPStatus.BAD_REQUEST, {"errors": {"name": ["Required."]}})
                            return
                        created: dict[str, Any] = {
                            "id": max((v["id"] for v in server.views), default=0) + 1,
                            "name": body["name"].strip(),
                            "shared": bool(body.get("shared")),
                            "mine": True,
                            "filters": body.get("filters") or {},
                            "refresh_seconds": body.get("refresh_seconds", 5),
                            "is_default": False,
                        }
                        server.views.append(created)
                        if body.get("make_default"):
                            self._make_default(created)
                        self._json(HTTPStatus.CREATED, created)
                    elif (match := re.fullmatch(r"/map/views/(\d+)/", path)) and (
                        view := self._view(int(match[1]))
                    ):
                        if body.get("make_default"):
                            self._make_default(view)
                        self._json(HTTPStatus.OK, view)
                    else:
                        self._json(HTTPStatus.NOT_FOUND, {"detail": "No such view."})

            def do_DELETE(self) -> None:
                path = self.path.split("?", 1)[0]
                with server._lock:
                    server.requests.append(("DELETE", path, None))
                    match = re.fullmatch(r"/map/views/(\d+)/", path)
                    view = self._view(int(match[1])) if match else None
                    if view is None or not view["mine"]:
                        self._json(HTTPStatus.NOT_FOUND, {"detail": "No such view."})
                        return
                    server.views.remove(view)
                    self._send(HTTPStatus.NO_CONTENT, b"", "text/plain")

            def _view(self, view_id: int) -> dict[str, Any] | None:
                return next((v for v in server.views if v["id"] == view_id), None)

            def _make_default(self, view: dict[str, Any]) -> None:
                for other in server.views:
                    other["is_default"] = other is view

        return Handler
