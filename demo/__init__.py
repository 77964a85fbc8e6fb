"""The demo: seeding (`seed`, `tenants`, `orders`), the fleet simulator (`simulator/`), their
commands (`seed_demo`, `simulate_fleet`), the beat task that moves the demo's orders along and the
roads base layer of the live map. The top layer: it imports the domain apps, never the reverse."""
