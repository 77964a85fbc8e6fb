# Models for reporting land with their issue.
