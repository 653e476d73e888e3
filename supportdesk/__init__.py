"""supportdesk: support tooling for a virtual-coin economy."""
