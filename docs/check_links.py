#!/usr/bin/env python3
"""Checks that every relative Markdown link in the README and docs/ resolves to a file inside
the repository, and that none points outside it (no ../shared, no http links to our own files).

Usage: python3 docs/check_links.py [FILE.md ...]   (default: README.md assets/README.md docs/*.md)
Exits 1 and lists the bad links if there are any.
"""
import glob
import os
import re
import sys

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
files = sys.argv[1:] or [os.path.join(ROOT, "README.md"),
                         os.path.join(ROOT, "assets", "README.md")] + sorted(
    glob.glob(os.path.join(ROOT, "docs", "*.md")))
bad = 0
for f in files:
    text = open(f, encoding="utf-8").read()
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # code blocks hold no links
    for m in re.finditer(r"\]\(([^)\s]+)\)", text):
        target = m.group(1)
        path = target.split("#")[0]
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            problem = "points outside the repository"
        elif not path:
            continue  # an anchor in the same file
        else:
            full = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(f)), path))
            if not full.startswith(ROOT + os.sep):
                problem = "points outside the repository"
            elif not os.path.exists(full):
                problem = "does not exist"
            else:
                continue
        print(f"{os.path.relpath(f, ROOT)}: {target} {problem}")
        bad += 1
print(f"{len(files)} files, {bad} bad links")
sys.exit(1 if bad else 0)
