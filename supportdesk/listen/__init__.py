"""`supportdesk listen`: the endpoint the stores send their notifications to, as they happen."""
