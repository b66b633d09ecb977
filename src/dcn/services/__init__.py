"""The service catalog: one module per service, as typed code (kolla's *_services)."""
