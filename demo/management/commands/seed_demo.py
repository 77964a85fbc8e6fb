from typing import Any

from django.core.management.base import BaseCommand

from demo.seed import demo_seed
from demo.tenants import demo_logins


class Command(BaseCommand):
    help = "Create the demo organizations, hubs, zones, vehicles, devices and one user per role."

    def handle(self, *args: Any, **options: Any) -> None:
        created = demo_seed()
        if created:
            self.stdout.write(f"Created demo organizations: {', '.join(o.name for o in created)}")
        else:
            self.stdout.write("Demo organizations already present.")
        self.stdout.write("Demo logins (password for all: doorstep-demo):")
        for username, what, _password in demo_logins():
            self.stdout.write(f"  {username:<28} {what}")
