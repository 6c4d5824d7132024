"""The station hub: the gateway for one station on the station PC, relaying to the district.

``enrolment`` holds the hub's own credential, ``identity_cache`` its copy of
the station's officers and devices, ``app`` the hub application and its two
background jobs (identity refresh, relay).
"""
