"""``python -m field_client`` is ``beatsync``."""

from field_client.cli import main

main()
