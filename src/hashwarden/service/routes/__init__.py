"""The service's routes, a module an area: matching (`match`), HMA's API (`hma`), named
banks and their entries (`banks`), action rules, report drafts and the outbox (`actions`),
near-match privacy (`privacy`), CIRCL hashlookup's API (`hashlookup`), operations
(`operations`), and endpoint agents' alerts and heartbeats (`alerts`). Each route reaches the
worker's state through `state.StateDep` and its caller's key through `auth`;
`app.create_app` wires them."""
