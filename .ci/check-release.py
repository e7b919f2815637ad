"""Checks what of the release can be checked without building it (.ci/run calls this):
the workflow's YAML and that each job runs .ci/release-build with a known builder, and the
Dockerfile's stages (its build stage runs the same script; tally is the entrypoint; the lake
and mappings are volumes; the Rust image is at least Cargo.toml's rust-version)."""
import re
import sys

import yaml

failures = []

workflow = yaml.safe_load(open(".github/workflows/release.yml"))
on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as True
if on != {"push": {"tags": ["v*"]}}:
    failures.append(f"release.yml: expected to run on v* tags, got {on!r}")
matrix = workflow["jobs"]["build"]["strategy"]["matrix"]["include"]
targets = {entry["rust_target"] for entry in matrix}
for wanted in ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu", "x86_64-apple-darwin", "aarch64-apple-darwin"]:
    if wanted not in targets:
        failures.append(f"release.yml: no job for {wanted}")
for entry in matrix:
    if entry["builder"] not in ("build", "zigbuild"):
        failures.append(f"release.yml: unknown builder {entry['builder']!r}")
    if not entry["target"].startswith(entry["rust_target"]):
        failures.append(f"release.yml: target {entry['target']} is not of {entry['rust_target']}")
steps = " ".join(str(s.get("run", "")) for s in workflow["jobs"]["build"]["steps"])
if ".ci/release-build" not in steps:
    failures.append("release.yml: the build job does not run .ci/release-build")

docker = open("Dockerfile").read()
stages = re.findall(r"^FROM\s+(\S+)", docker, re.M)
if len(stages) != 2:
    failures.append(f"Dockerfile: expected a build and a runtime stage, got {stages}")
if ".ci/release-build" not in docker:
    failures.append("Dockerfile: the build stage does not run .ci/release-build")
if 'ENTRYPOINT ["tally"]' not in docker:
    failures.append("Dockerfile: tally is not the entrypoint")
if 'VOLUME ["/lake", "/mappings"]' not in docker:
    failures.append("Dockerfile: the lake and mappings are not volumes")
rust_image = re.match(r"rust:(\d+)\.(\d+)", stages[0]) if stages else None
wanted = re.search(r'^rust-version = "(\d+)\.(\d+)"', open("Cargo.toml").read(), re.M)
if not rust_image or tuple(map(int, rust_image.groups())) < tuple(map(int, wanted.groups())):
    failures.append(f"Dockerfile: build image {stages[:1]} older than rust-version {wanted.group(0)}")

if failures:
    print("\n".join(failures), file=sys.stderr)
    sys.exit(1)
print(f"release: workflow builds {sorted(targets)}; Dockerfile stages {stages}")
