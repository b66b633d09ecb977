"""`dcn verify`: Tempest, OpenStack's own conformance suite, against the deployed cloud.

Tempest runs from PyPI in its own virtualenv under the state dir (`install`), with a
tempest.conf that dcn renders from the deployment (`config`, pure), minus the tests
that nova's fake driver or the lab cannot pass (`exclusions`, one documented list);
its results are counted per API area (`areas`, `results`, pure). Only `run` talks to
the cloud and starts processes.
"""
