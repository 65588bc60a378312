"""tests/fixtures/yaml/pyyaml-lines.tsv is what PyYAML says of each broken models.yaml there:
tests/config.rs holds mora's error lines to it, so the table must come from PyYAML, not from memory.

    .venv/bin/python -m unittest discover -s scripts/tests -v
"""

import subprocess
import sys
import unittest
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "yaml_error_lines.py"


class PyYamlLines(unittest.TestCase):
    def test_the_committed_table_is_what_pyyaml_says(self):
        done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)


if __name__ == "__main__":
    unittest.main()
