"""Entry point of the CrossGuard pack (`pulumi preview --policy-pack infra/policy`)."""

from infra.policy.pack import main

main()
