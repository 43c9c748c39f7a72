#!/usr/bin/env python3
"""Checks executed GoNB notebooks: no failed cell, and the figures they promise are in the file.

Usage: check-notebooks.py SOURCE.ipynb EXECUTED.ipynb [SOURCE EXECUTED ...]

GoNB reports a Go program that panics or exits non-zero as ordinary stderr output ending in
"exit status N", not as a cell error, so nbconvert alone lets such a notebook pass; this script
fails it. It also checks the committed notebook: every cell has an id (nbformat 4.5) and the
stored outputs are small. A notebook states the figures it must produce in its metadata,
{"gomvp": {"figures": N}}: at least N SVG or PNG images (inline <svg>, image/svg+xml, image/png
or a base64 PNG <img>) must be in the executed copy. Standard library only.
"""
import json
import re
import sys

MAX_STORED_OUTPUT_BYTES = 20_000
FAILURE = re.compile(r"^(exit status [1-9][0-9]*|panic: |fatal error: )", re.M)


def text_of(v):
    return "".join(v) if isinstance(v, list) else (v or "")


def check_source(path):
    problems = []
    nb = json.load(open(path, encoding="utf-8"))
    if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) < (4, 5):
        problems.append("nbformat %s.%s < 4.5: cells cannot carry ids" % (nb.get("nbformat"), nb.get("nbformat_minor")))
    ids = set()
    stored = 0
    for i, c in enumerate(nb["cells"]):
        cid = c.get("id")
        if not cid:
            problems.append("cell %d has no id" % i)
        elif cid in ids:
            problems.append("cell %d repeats id %r" % (i, cid))
        ids.add(cid)
        stored += len(json.dumps(c.get("outputs", [])))
    if stored > MAX_STORED_OUTPUT_BYTES:
        problems.append("stored outputs take %d bytes (> %d): clear them before committing" % (stored, MAX_STORED_OUTPUT_BYTES))
    want = nb.get("metadata", {}).get("gomvp", {}).get("figures", 1)
    return problems, want


def check_executed(path, want_figures):
    problems = []
    nb = json.load(open(path, encoding="utf-8"))
    figs = {"svg": 0, "png": 0, "gif": 0}
    for c in nb["cells"]:
        if c["cell_type"] != "code":
            continue
        where = "cell %s" % c.get("id")
        for o in c.get("outputs", []):
            kind = o.get("output_type")
            if kind == "error":
                problems.append("%s: %s: %s" % (where, o.get("ename"), o.get("evalue")))
            elif kind == "stream" and o.get("name") == "stderr":
                m = FAILURE.search(text_of(o.get("text")))
                if m:
                    tail = text_of(o.get("text"))[-600:]
                    problems.append("%s failed (%s):\n%s" % (where, m.group(1).strip(), tail))
            data = o.get("data", {})
            if "image/png" in data:
                figs["png"] += 1
            if "image/svg+xml" in data:
                figs["svg"] += 1
            html = text_of(data.get("text/html"))
            figs["svg"] += html.count("<svg")
            figs["png"] += html.count("data:image/png;base64,")
            figs["gif"] += html.count("data:image/gif;base64,")
    if figs["svg"] + figs["png"] < want_figures:
        problems.append("%d SVG/PNG figures, want at least %d" % (figs["svg"] + figs["png"], want_figures))
    return problems, figs


def main(args):
    if not args or len(args) % 2:
        print(__doc__, file=sys.stderr)
        return 2
    failed = 0
    for src, ran in zip(args[::2], args[1::2]):
        p1, want = check_source(src)
        p2, figs = check_executed(ran, want)
        problems = p1 + p2
        status = "FAIL" if problems else "ok"
        print("%-4s %s: %d svg, %d png, %d gif (want >= %d svg/png)" % (status, src, figs["svg"], figs["png"], figs["gif"], want))
        for p in problems:
            print("     " + p.replace("\n", "\n     "))
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
