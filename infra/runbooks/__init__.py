"""Runbooks rendered per environment from one source (runbooks/templates/, jinja2).

`context.runbook_context(env)` gathers what a command needs to be pasted as is (region, cluster,
node group and Karpenter NodePool names as the program names them, namespaces, dashboards,
escalation contacts); `render.render_environment(env)` renders every template into
runbooks/<env>/. `gpt-oss-platform runbooks --env all` writes them; a test fails when a
committed runbook is stale.
"""
