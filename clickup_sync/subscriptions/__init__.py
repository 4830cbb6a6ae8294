"""Our ClickUp webhook subscription: register it, keep its secret, keep it delivering (issue #4 §3).

`registry` (the `webhooks` table; `active_secrets` for signature checks), `register` (create, adopt,
list and delete against ClickUp), `health` (`WebhookHealthMonitor`: reactivates and reconciles),
`cli` (`webhooks_app`, the `clickup-sync webhooks` commands). Nothing is imported here, so the
webhook receiver can use `registry` without loading the ClickUp client and the sync engines.
"""
