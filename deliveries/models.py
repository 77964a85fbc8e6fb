# Models for deliveries land with their issue.
