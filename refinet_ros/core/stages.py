"""Old name of :mod:`.weights`, kept only while ros/refine_node.py imports it from here."""
from .weights import build_stages  # noqa: F401
