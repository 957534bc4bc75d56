"""Print the SHA-256 hash of a client API key read from stdin, for clients.json.

    printf '%s' "$KEY" | python -m serving.gateway.hash_key

The key is read from stdin (never an argument, which would land in shell history and `ps`);
one trailing newline is dropped, so `echo "$KEY" |` works too.
"""

from __future__ import annotations

import sys

from serving.gateway.auth import hash_key


def main() -> int:
    key = sys.stdin.read()
    if key.endswith("\n"):
        key = key[:-1]
        if key.endswith("\r"):
            key = key[:-1]
    if not key or key.strip() != key:
        print("expected one key on stdin, without surrounding spaces", file=sys.stderr)
        return 2
    print(hash_key(key))
    return 0


if __name__ == "__main__":
    sys.exit(main())
