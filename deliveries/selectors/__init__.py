"""Reads of the deliveries app, one module per aggregate. Every function takes the organization,
checks that the caller entered its tenant context (`require_organization`) and filters by it;
none enters a context. QuerySets come back lazy: the caller evaluates them in the same context."""
