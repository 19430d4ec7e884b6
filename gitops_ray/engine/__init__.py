"""From desired to live: desired and live state, diff, plan, apply, health, Ray knowledge.

The engine reads Git through `source`/`manifests`, checks through `checks`,
talks to Kubernetes only through `cluster`, and writes the record only through
`record.audit`. Nothing below it imports it.
"""
