#!/usr/bin/env python3
"""Every module a target imports is declared in Package.swift (its own targets or products), so
the build never works by luck of ordering and `swift build --target X` builds X alone.
Exits 1 listing each undeclared import."""
import os
import re
import subprocess
import sys
import json

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
described = json.loads(subprocess.run(["swift", "package", "describe", "--type", "json"], cwd=root, capture_output=True, text=True, check=True).stdout)
system = {"Foundation", "FoundationEssentials", "FoundationNetworking", "Dispatch", "Glibc", "Musl", "Synchronization", "Testing", "XCTest", "_Concurrency", "os", "Darwin"}
# Products whose module names differ from the product name.
product_modules = {"PropertyBased": ["PropertyBased"], "UnixSignals": ["UnixSignals"]}
problems = []
for target in described["targets"]:
    name = target["name"]
    declared = set(target.get("target_dependencies", [])) | set(target.get("product_dependencies", []))
    for product in list(declared):
        declared.update(product_modules.get(product, []))
    path = os.path.join(root, target["path"])
    for folder, _, files in os.walk(path):
        for file in files:
            if not file.endswith(".swift"):
                continue
            with open(os.path.join(folder, file)) as f:
                for number, line in enumerate(f, 1):
                    m = re.match(r"\s*(?:@testable\s+|@_exported\s+|public\s+|internal\s+|package\s+)?import\s+(?:struct\s+|enum\s+|class\s+|protocol\s+|func\s+)?([A-Za-z_][A-Za-z0-9_]*)", line)
                    if not m:
                        continue
                    module = m.group(1)
                    if module in system or module == name or module in declared:
                        continue
                    problems.append(f"{os.path.relpath(os.path.join(folder, file), root)}:{number}: target {name} imports {module}, which Package.swift does not list")
for p in sorted(set(problems)):
    print(p)
sys.exit(1 if problems else 0)
