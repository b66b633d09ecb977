"""dcn: deploy and operate Distributed Compute Node OpenStack clouds."""

__version__ = "0.1.0"
