"""``server/openapi.yaml`` describes exactly the routes the site serves to
programs: the gateway's, the portal's JSON API (``/_beatsync/portal/``, the
verifier's ``/portal/keys.json``) and ``/metrics``. The HTML faces (the
portal's and the office's pages) are for people, not in the spec.

The fuzz test drives the operations the spec lists; this one makes sure a
route added to the router without the spec (or left in the spec after the
route went) cannot slip past it.
"""

from __future__ import annotations

import re
from importlib import resources

import yaml

from server.site import OFFICE_PREFIX, PORTAL_PREFIX, create_site

METHODS = ("GET", "PUT", "POST", "DELETE")
HTML_FACES = (PORTAL_PREFIX, OFFICE_PREFIX)
# Routes of the faces that answer JSON, for programs (an officer's device
# caches the keys to verify certificates offline).
JSON_IN_FACES = {("GET", "/portal/keys.json")}


def served_routes() -> set[tuple[str, str]]:
    routes: set[tuple[str, str]] = set()
    for route in create_site().router.routes():
        if route.method not in METHODS:
            continue  # HEAD, added beside every GET
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix")
        assert isinstance(path, str), info
        if path.startswith(HTML_FACES) and (route.method, path) not in JSON_IN_FACES:
            continue
        # `{db:[a-z]...}` in the router is `{db}` in the spec; `/{db}/` is the
        # same resource as `/{db}` (CouchDB answers both).
        path = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", path)
        routes.add((route.method, path.rstrip("/") or "/"))
    return routes


def documented_routes() -> set[tuple[str, str]]:
    spec = yaml.safe_load(resources.files("server").joinpath("openapi.yaml").read_text())
    return {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method.upper() in METHODS
    }


def test_every_served_route_is_in_the_spec() -> None:
    assert served_routes() - documented_routes() == set()


def test_every_route_in_the_spec_is_served() -> None:
    assert documented_routes() - served_routes() == set()


def test_the_comparison_sees_both_sides() -> None:
    both = served_routes() & documented_routes()
    assert ("POST", "/{db}/_bulk_docs") in both
    assert ("GET", "/_beatsync/hub/identities") in both
    assert ("GET", "/_beatsync/portal/awaiting-signature") in both
    assert ("POST", "/_beatsync/portal/certificates/{request_id}/decision") in both
    assert ("GET", "/portal/keys.json") in both


def test_the_faces_pages_are_left_out() -> None:
    assert ("GET", "/portal/complaint") not in served_routes()
    assert ("GET", "/office/conflicts") not in served_routes()
