"""The student image's cache key: the digest of what goes into it; a student server's isolation from the
engine's runtimes (pure: no engine)."""
import subprocess
import tarfile
from types import SimpleNamespace

from dockerlab.engine.classroom import SYSBOX_RUNTIME, isolation, student_image_context


def git_repo(folder):
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    (folder / "pyproject.toml").write_text("[project]\nname = 'kit'\ndependencies = []\n")
    (folder / "tool.sh").write_text("#!/bin/sh\n")
    (folder / "tool.sh").chmod(0o755)
    (folder / "untracked.txt").write_text("not part of the kit")
    subprocess.run(["git", "-C", str(folder), "add", "pyproject.toml", "tool.sh"], check=True)
    return folder


def test_the_digest_changes_with_a_kit_file_or_the_hub_version_and_not_otherwise(tmp_path):
    repo = git_repo(tmp_path / "kit")
    _, first = student_image_context(repo, "5.0.0")
    (repo / "untracked.txt").write_text("edited, still not part of the kit")
    assert student_image_context(repo, "5.0.0")[1] == first
    assert student_image_context(repo, "5.1.0")[1] != first
    (repo / "tool.sh").write_text("#!/bin/sh\necho changed\n")
    assert student_image_context(repo, "5.0.0")[1] != first


def test_the_context_holds_the_tracked_files_with_their_modes_and_the_entrypoint(tmp_path):
    context, _ = student_image_context(git_repo(tmp_path / "kit"), "5.0.0")
    with tarfile.open(fileobj=context) as tar:
        members = {member.name: member.mode for member in tar.getmembers()}
    assert members["kit/tool.sh"] == 0o755 and members["entrypoint.sh"] == 0o755
    assert "kit/untracked.txt" not in members and "Dockerfile" in members


def test_with_sysbox_a_server_gets_its_runtime_and_no_host_privileges_else_the_trusted_set():
    with_sysbox = SimpleNamespace(info={"Runtimes": {"runc": {}, SYSBOX_RUNTIME: {"path": "/usr/bin/sysbox-runc"}}})
    assert isolation(with_sysbox) == ({"runtime": "sysbox-runc"}, {}, {})
    options, raw, mounts = isolation(SimpleNamespace(info={"Runtimes": {"runc": {}}}))
    assert options["cap_add"] == ["ALL"] and options["cap_drop"] == ["SYS_RESOURCE"]
    assert "seccomp=unconfined" in options["security_opt"] and raw == {"MaskedPaths": [], "ReadonlyPaths": []}
    assert mounts == {"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"}}
