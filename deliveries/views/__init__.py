"""The deliveries app's HTML and JSON views, one module per screen area. Each view translates
its request into selector and service calls (deliveries/selectors/, deliveries/services/)."""
