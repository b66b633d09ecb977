"""The read-only web view of a deployment (`dcn serve`): the fleet, the topology, a
site, drills and rollouts, from the same state store and status code as the CLI.

Nothing here deploys or changes the cloud: pages only read the store, the lab's
manifest and (bounded, cached, in the background) the control plane's API.
"""
