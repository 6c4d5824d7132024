from tests.field_client.ui.support import ui

__all__ = ["ui"]
