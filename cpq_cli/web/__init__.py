"""The approvers' web inbox (`cpq serve`): a Starlette app over the same services as the CLI."""
