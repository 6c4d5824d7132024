"""What every server-rendered face shares: pages and their language, forms
and their CSRF token, security headers, error pages, the base stylesheet.

It lives under ``schemas`` because both sides serve pages: the server's
faces (``server/portal``, ``server/office``, through ``server.web``) and the
officer's app on the device (``field_client/ui``), which may not import
``server``. Beside the message catalogue (:mod:`schemas.i18n`), it is the
one copy of the base templates and the stylesheet. A face builds its
aiohttp application with :func:`schemas.web.pages.create_face`.
"""
