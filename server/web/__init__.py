"""What every server-rendered face shares: pages and their language, forms
and their CSRF token, security headers, error pages, the base stylesheet.

The portal and the office (``server/portal``, ``server/office``) are aiohttp
sub-applications built with :func:`server.web.pages.create_face`; they read
the gateway's state through ``request.config_dict``.
"""
