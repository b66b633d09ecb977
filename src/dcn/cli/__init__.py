"""The `dcn` command: parses flags, calls `dcn.workspace`, renders results."""
