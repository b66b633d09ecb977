"""Pictures of what dcn observed, for people: a drill's timeline (`timeline`).

Pure functions from stored reports to SVG or PNG; nothing here reaches a host or the
state store, and matplotlib is imported only when a picture is drawn, so the CLI
starts as fast without it.
"""
