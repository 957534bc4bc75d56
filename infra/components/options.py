"""Resource options for the children of a component.

Pulumi does not hand a component's `depends_on` to its children: a ComponentResource is only a
container, and a child custom resource waits for what its *own* options name (pulumi/pulumi#8721,
#7542; sdk/python/lib/pulumi/runtime/resource.py `prepare_resource` resolves only `opts.depends_on`
of the resource being registered). A component that must wait for something (a CRD installed by
another release, a namespace) therefore passes that dependency to every child that needs it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi


def depends_on_of(opts: pulumi.ResourceOptions | None) -> list[pulumi.Resource]:
    """The explicit dependencies given to a component, as a list."""
    if opts is None or opts.depends_on is None:
        return []
    found = opts.depends_on
    return list(found) if isinstance(found, Sequence) else [found]  # type: ignore[list-item]


def child_options(
    parent: pulumi.Resource,
    component_opts: pulumi.ResourceOptions | None,
    *,
    depends_on: Sequence[pulumi.Resource] = (),
    protect: bool = False,
    ignore_changes: list[str] | None = None,
) -> pulumi.ResourceOptions:
    """Options for a child: parented to the component and waiting for what the component waits for."""
    return pulumi.ResourceOptions(
        parent=parent,
        depends_on=[*depends_on_of(component_opts), *depends_on] or None,
        protect=protect,
        ignore_changes=ignore_changes,
    )
