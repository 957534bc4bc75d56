"""The few git operations promotion, `diff ENV@REF` and `envs affected` need, through the git CLI.

Everything runs in an explicit repository folder (`cwd`), never in the process's working
directory by accident: tests promote on a scratch repository, never on this one.
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
import tempfile
from pathlib import Path

# Generous for a local repository; a hung git (a credential prompt) must not hang the CLI.
GIT_TIMEOUT_S = 60


class GitError(RuntimeError):
    """A git command failed; the message names the command and git's own error."""


def git(repo: Path, *args: str, check: bool = True, index_file: Path | None = None, stdin: str | None = None) -> str:
    """Run git in `repo`; its stdout. `index_file` points git at a private index (GIT_INDEX_FILE),
    so a commit can be built without touching the user's index or working tree."""
    env = {**os.environ, "GIT_INDEX_FILE": str(index_file)} if index_file is not None else None
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            input=stdin,
            env=env,
            stdin=None if stdin is not None else subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise GitError("git is not installed (apt-get install git)") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"`git {' '.join(args)}` took more than {GIT_TIMEOUT_S} s") from None
    if check and result.returncode != 0:
        raise GitError(f"`git {' '.join(args)}` failed in {repo}: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def head_commit(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def is_ancestor(repo: Path, commit: str, ref: str) -> bool:
    """Whether `commit` is `ref` or one of its ancestors (false for a commit git does not know)."""
    try:
        result = subprocess.run(
            ["git", "merge-base", "--is-ancestor", commit, ref],
            cwd=repo,
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise GitError("git is not installed (apt-get install git)") from None
    return result.returncode == 0


def is_clean(repo: Path, paths: list[str] | None = None) -> bool:
    return git(repo, "status", "--porcelain", "--", *(paths or [])).strip() == ""


def branch_exists(repo: Path, branch: str) -> bool:
    return git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False).strip() != ""


def user_name(repo: Path) -> str:
    return git(repo, "config", "user.name", check=False).strip()


def changed_files(repo: Path, base: str) -> list[str]:
    """Files that differ between `base` and the working tree (committed or not)."""
    out = git(repo, "diff", "--name-only", base, "--")
    untracked = git(repo, "ls-files", "--others", "--exclude-standard")
    return sorted({line for line in (out + untracked).splitlines() if line})


def export_paths(repo: Path, ref: str, pathspecs: list[str], dest: Path) -> list[str]:
    """Write the files matching `pathspecs` as they are at `ref` under `dest`; their paths."""
    # ls-tree takes literal paths, not globs: list the tree and match here. A pattern matches a
    # file by name (`Pulumi.*.yaml`) or a folder and everything under it (`environments`).
    listing = git(repo, "ls-tree", "-r", "--name-only", ref).splitlines()
    chosen = [p for p in listing if any(fnmatch.fnmatchcase(p, s) or p.startswith(s.rstrip("/") + "/") for s in pathspecs)]
    written = []
    for path in chosen:
        content = subprocess.run(
            ["git", "show", f"{ref}:{path}"], cwd=repo, capture_output=True, timeout=GIT_TIMEOUT_S, check=True
        ).stdout
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        written.append(path)
    return written


def commit_files_on_branch(repo: Path, branch: str, files: dict[str, str], message: str, parent: str = "HEAD") -> str:
    """Commit `files` (repository path -> text) on a new branch `branch` whose parent is `parent`,
    with git plumbing (a private index, hash-object, write-tree, commit-tree, update-ref): the
    user's checkout, index and current branch are left exactly as they were. The new commit."""
    parent_commit = git(repo, "rev-parse", "--verify", f"{parent}^{{commit}}").strip()
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "index"
        git(repo, "read-tree", parent_commit, index_file=index)
        for path, text in sorted(files.items()):
            blob = git(repo, "hash-object", "-w", "--stdin", stdin=text).strip()
            git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", index_file=index)
        tree = git(repo, "write-tree", index_file=index).strip()
    commit = git(repo, "commit-tree", tree, "-p", parent_commit, "-F", "-", stdin=message).strip()
    # Create only: an existing branch of that name is never moved (the empty old value says so).
    git(repo, "update-ref", f"refs/heads/{branch}", commit, "")
    return commit
