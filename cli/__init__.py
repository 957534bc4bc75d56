"""`gpt-oss-platform`: the one command line of the toolkit.

Every command a user runs is a subcommand here, and every make target calls one. Each
subcommand lives in its own module with two functions: `add_parser(subparsers)` declares its
flags (argparse only, so `--help` is instant) and `run(args) -> int` does the work, importing
what it needs inside the function.

Exit codes, the same for every subcommand (docs/cli.md):
  0  done, every check passed
  1  done, but a check failed (the plan's gates, a refused promotion, drift, audit gaps, ...)
  2  bad input: unknown flag, invalid configuration, missing file; nothing was changed
"""
