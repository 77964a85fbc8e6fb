# Models for alerts land with their issue.
