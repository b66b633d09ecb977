"""`dcn rollout`: the edges that need a deploy (after a control-plane change, most
often), deployed wave by wave with a health gate after each wave, stopped when too
many fail, recorded in the state store site by site so that it can be resumed.

`waves` plans the waves (pure), `run` executes them with a deploy and a gate it is
given, `gate` is the health gate (nova's computes, smoke servers), `report` the
figures of a recorded rollout, `launch` ties them to a workspace.
"""
