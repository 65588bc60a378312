#!/usr/bin/env bash
# The HTML report in a real browser. mora writes the page of a fleet: the committed 2-core VM run
# merged with the committed H200 run (two machines, both named "vm"). Headless Chromium, Debian's,
# loads it from file:// and dumps the DOM it rendered (after the page's script ran), which must hold
# every section of the report (as report.md lists them), each host's block, the charts and every
# recommendation, with the tables made sortable; the address `#sort=TABLE,COLUMN,desc` must sort a
# table in the browser; and a screenshot is taken for a person to look at.
#
# usage: scripts/fleet/tests/html.sh
#   the page, the DOM and the screenshot stay in target/fleet-html/ (report/report.html, dom.html,
#   sorted-dom.html, screenshot.png)
# needs: chromium (scripts/fleet/tests/install-deps.sh), mora (MORA_BIN, default target/debug/mora)
set -euo pipefail
cd "$(dirname "$0")/../../.."
started=$SECONDS
if ! command -v chromium >/dev/null; then
  echo "html.sh: chromium is missing: run scripts/fleet/tests/install-deps.sh (apt-get install chromium)" >&2
  exit 1
fi
mora=${MORA_BIN:-target/debug/mora}
if [ ! -x "$mora" ]; then
  cargo build --locked
fi
out=target/fleet-html
rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)
runs=(tests/fixtures/runs/20261127T063335Z-vm tests/fixtures/runs/20261127T114236Z-h200)
"$mora" report "${runs[@]}" --format html --out "$out/report" >/dev/null 2>"$out/report.log"
"$mora" report "${runs[@]}" --format markdown >"$out/report.md"
page="file://$out/report/report.html"

# Chromium as these machines allow it: no sandbox (root), no GPU, and none of the background
# connections a closed network refuses; a new empty profile each time.
chrome() {
  local profile
  profile=$(mktemp -d "$out/profile.XXXXXX")
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$profile" "$@" 2>>"$out/chromium.log"
  rm -rf "$profile"
}
chrome --dump-dom "$page" >"$out/dom.html"
chrome --dump-dom "$page#sort=s-host-by-host-table,5,desc" >"$out/sorted-dom.html"
chrome --window-size=1400,2400 --screenshot="$out/screenshot.png" "$page" >/dev/null

python3 - "$out" <<'EOF'
import json, re, sys
from html.parser import HTMLParser

out = sys.argv[1]

class Dom(HTMLParser):
    """What the checks read from a dumped DOM: headings, section and block ids, tables, charts."""
    def __init__(self):
        super().__init__()
        self.headings, self.ids, self.tables, self.svgs, self.advice = [], [], [], 0, 0
        self.outside, self.stack, self.text, self.table, self.row = [], [], None, None, None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.stack.append(tag)
        if tag in ("section", "details") and "id" in a:
            self.ids.append(a["id"])
        if tag in ("h2", "h3"):
            self.text = ""
        if tag == "svg":
            self.svgs += 1
        if tag == "li" and "recommendations" in self.ids[-1:] and self.stack.count("ol") == 1 and self.stack.count("ul") == 0:
            self.advice += 1
        for name in ("src", "href"):
            if a.get(name, "").startswith(("http:", "https:", "//")):
                self.outside.append(f"{tag} {name}={a[name]}")
        if tag == "table":
            self.table = {"id": a.get("id"), "class": a.get("class"), "sort": [], "rows": []}
            self.tables.append(self.table)
        if tag == "th" and self.table is not None:
            self.table["sort"].append(a.get("aria-sort"))
        if tag == "tr" and self.table is not None and "tbody" in self.stack:
            self.row = []
            self.table["rows"].append(self.row)
        if tag == "td" and self.row is not None:
            self.row.append("")
    def handle_endtag(self, tag):
        while self.stack and self.stack.pop() != tag:
            pass
        if tag in ("h2", "h3") and self.text is not None:
            self.headings.append(self.text.strip())
            self.text = None
        if tag == "table":
            self.table = None
    def handle_data(self, data):
        if self.text is not None:
            self.text += data
        if self.row is not None and self.stack and self.stack[-1] == "td":
            self.row[-1] += data

def parse(name):
    dom = Dom()
    dom.feed(open(f"{out}/{name}", encoding="utf-8").read())
    return dom

def check(ok, what):
    if not ok:
        sys.exit(f"html.sh: FAIL: {what}")

dom = parse("dom.html")
md = open(f"{out}/report.md", encoding="utf-8").read()
titles = [l[3:] for l in md.splitlines() if l.startswith("## ") and l != "## Recommendations"]
hosts = sorted({t.rsplit(" — ", 1)[1] for t in titles if " — " in t})
check(len(hosts) == 2, f"two hosts' blocks expected in report.md: {hosts}")
for title in titles:
    check(title.rsplit(" — ", 1)[0] in dom.headings, f"the section {title!r} is not in the rendered page")
for id in ["s-hosts", "s-host-by-host", "s-planning-per-machine-class", "charts", "recommendations"]:
    check(id in dom.ids, f"no #{id} in the rendered page")
check(sum(1 for i in dom.ids if re.fullmatch(r"s-host-vm-[a-z0-9-]+-cores", i)) == 2, f"two host blocks expected: {dom.ids}")
# One sortable table per section (a fleet's summary has answers per machine class, no table); the
# recommendations' evidence tables are the only others.
tables = [t for t in dom.tables if t["class"] == "sortable"]
others = [t["class"] for t in dom.tables if t["class"] != "sortable"]
tabled = [t for t in titles if not t.startswith("Summary")]
check(len(tables) == len(tabled), f"{len(tables)} section tables for {len(tabled)} sections")
check(all(c == "evidence" for c in others), f"tables that are neither a section's nor evidence: {others}")
check(len(others) > 0, "the recommendations' evidence tables are in the page")
check(all(t["sort"] and all(s == "none" for s in t["sort"]) for t in tables),
      "every section table's headers are sortable (the page's script set aria-sort)")
charts = [f for f in __import__("os").listdir(f"{out}/report") if f.endswith(".svg")]
check(dom.svgs == len(charts) >= 3, f"{dom.svgs} charts in the page, {len(charts)} written")
advice = json.load(open(f"{out}/report/results.json"))["recommendations"]
check(dom.advice == len(advice) > 0, f"{dom.advice} recommendations in the page, {len(advice)} in results.json")
check(not dom.outside, f"the page refers outside itself: {dom.outside}")

# Sorted by the address: Load ms (column 5) of the host-by-host table, descending, in the browser.
sorted_dom = parse("sorted-dom.html")
table = next(t for t in sorted_dom.tables if t["id"] == "s-host-by-host-table")
check(table["sort"][5] == "descending", f"aria-sort of Load ms: {table['sort']}")
loads = [float(r[5].split()[0]) for r in table["rows"]]
check(loads == sorted(loads, reverse=True) and loads[0] > loads[-1], f"Load ms not descending: {loads}")
original = next(t for t in dom.tables if t["id"] == "s-host-by-host-table")
check(sorted(map(tuple, original["rows"])) == sorted(map(tuple, table["rows"])), "sorting lost or changed rows")

png = open(f"{out}/screenshot.png", "rb").read()
check(png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000, f"screenshot.png: {len(png)} bytes")
print(f"html.sh: {len(titles)} sections, {len(hosts)} host blocks, {dom.svgs} charts, {dom.advice} recommendations rendered; sorted {len(loads)} rows by Load ms")
EOF
echo "html.sh: ok in $((SECONDS - started)) s; the page, its DOM and a screenshot are in $out"
