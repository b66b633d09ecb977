"""The deployment description: schema, loader with source positions, role catalog."""
