"""The central office web app at ``/office/``: login, the conflict queue,
device sync health, the audit trail; ``/metrics`` for Prometheus.

Rank 5 (beside ``hub`` and ``portal``): it reads the gateway's state, stores
and conflict desk through ``request.config_dict`` and renders; every rule of
who sees what stays in :mod:`server.conflicts.desk` and :mod:`server.policy`.
"""
