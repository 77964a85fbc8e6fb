"""Writes of the deliveries app, one module per aggregate or use case. Each service takes the
organization explicitly, checks the caller entered its tenant context (`require_organization`),
writes inside one transaction and leaves side effects to the outbox or `on_commit`."""
