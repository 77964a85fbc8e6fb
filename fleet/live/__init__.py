"""The live map's contract and machinery (docs/live-map.md):

- schema: the vehicle record `V`, the channel-layer message, the websocket frames;
- filters: a screen's filter, parsed once and applied to every vehicle (pure);
- broadcast: how committed states reach an organization's live group (ingest, maintenance);
- hub: one channel-layer subscription per organization and process, fanned out in memory;
- consumer: the websocket of one screen (transport only).
"""
