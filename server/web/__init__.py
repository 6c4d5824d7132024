"""The server's faces' page frame: :mod:`schemas.web`, which the officer's
app on the device shares (``field_client`` may not import ``server``).

The portal and the office (``server/portal``, ``server/office``) are aiohttp
sub-applications built with :func:`server.web.pages.create_face`; they read
the gateway's state through ``request.config_dict``.
"""
