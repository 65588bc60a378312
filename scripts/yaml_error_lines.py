#!/usr/bin/env python3
"""The line PyYAML names for each broken models.yaml in tests/fixtures/yaml/, written to
tests/fixtures/yaml/pyyaml-lines.tsv, which tests/config.rs holds mora's errors to.

Each fixture says in its header which of PyYAML's lines to take:
  # pyyaml: problem        the line of PyYAML's error ("found ...", "expected ...")
  # pyyaml: context        the line of its "while scanning/parsing ..." (where a quote or bracket opened)
  # pyyaml: key A/1/B      valid YAML (PyYAML loads it): the line of key B in item 1 of A, by PyYAML's composer
  # pyyaml: value A        valid YAML: the line where A's value starts

Run with the PyYAML of scripts/requirements-test.txt:
  .venv/bin/python scripts/yaml_error_lines.py          # rewrite the table
  .venv/bin/python scripts/yaml_error_lines.py --check  # fail if the table is not what PyYAML says
"""

import argparse
import pathlib
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "yaml"
TABLE = FIXTURES / "pyyaml-lines.tsv"
HEADER = "file\tpyyaml\tline\twhat PyYAML says\n"


def header(text, name):
    for line in text.splitlines():
        if line.startswith("# " + name + ": "):
            return line[len(name) + 4 :]
    raise SystemExit(f"no `# {name}:` line")


def node_line(node, path, want_value):
    """The 1-based line of the key (or value) at `path` in a composed PyYAML node."""
    steps = path.split("/")
    for n, step in enumerate(steps):
        last = n == len(steps) - 1
        if isinstance(node, yaml.SequenceNode):
            node = node.value[int(step)]
            if last:
                return node.start_mark.line + 1
            continue
        if not isinstance(node, yaml.MappingNode):
            raise SystemExit(f"{path}: {step} is not inside a mapping or list")
        for key, value in node.value:
            if key.value == step:
                if last:
                    return (value if want_value else key).start_mark.line + 1
                node = value
                break
        else:
            raise SystemExit(f"{path}: no key {step}")


def row(path):
    text = path.read_text(encoding="utf-8")
    spec = header(text, "pyyaml")
    kind, _, where = spec.partition(" ")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        says = []
        if e.context:
            says.append(f"{e.context} (line {e.context_mark.line + 1})" if e.context_mark else e.context)
        says.append(f"{e.problem} (line {e.problem_mark.line + 1})")
        mark = {"problem": e.problem_mark, "context": e.context_mark}.get(kind)
        if mark is None:
            raise SystemExit(f"{path.name}: PyYAML refuses it ({'; '.join(says)}), so `pyyaml: {spec}` cannot name a node")
        return f"{path.name}\t{spec}\t{mark.line + 1}\t{'; '.join(says)}\n"
    if kind not in ("key", "value"):
        raise SystemExit(f"{path.name}: PyYAML loads it, so it has no {kind} line: name a node (`key PATH` or `value PATH`)")
    line = node_line(node, where, kind == "value")
    return f"{path.name}\t{spec}\t{line}\tloads it (valid YAML); its {kind} {where} is at line {line}\n"


def table():
    files = sorted(FIXTURES.glob("*.yaml"))
    return HEADER + "".join(row(p) for p in files)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed table instead of writing it")
    args = parser.parse_args()
    now = table()
    if args.check:
        before = TABLE.read_text(encoding="utf-8") if TABLE.exists() else ""
        if before != now:
            sys.stderr.write(f"{TABLE.relative_to(ROOT)} is not what PyYAML {yaml.__version__} says: run scripts/yaml_error_lines.py\n")
            return 1
        return 0
    TABLE.write_text(now, encoding="utf-8")
    print(f"wrote {TABLE.relative_to(ROOT)} ({now.count(chr(10)) - 1} files, PyYAML {yaml.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
