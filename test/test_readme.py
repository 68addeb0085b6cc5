"""The README's parameter table is the params file's: every parameter, its default, no others."""
import re
from pathlib import Path

from refinet_ros.config_file import read_node_parameters

README = Path(__file__).resolve().parents[1] / "README.md"


def test_parameter_table_lists_every_parameter_with_its_default():
    rows = dict(re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", README.read_text(), flags=re.M))
    defaults = read_node_parameters()
    shown = {k: (f'"{v}"' if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v))
             for k, v in defaults.items()}
    assert {k: rows.get(k) for k in shown} == shown
