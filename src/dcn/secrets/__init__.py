"""Secret names, kinds and generation. Values live only in the state store."""
