"""`python -m hashwarden.agent SETTINGS`: the agent's own process, which `hashwarden watch`
replaces itself with once the settings are checked (same process id), so the running agent
holds only what it needs in memory, not every command's imports.

SETTINGS is JSON: `{"config": FILE or null, "flags": {...}, "key_from_env": bool}`; a key given
on the command line comes in HASHWARDEN_AGENT_KEY, never in the arguments (which every user
can read).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from hashwarden.errors import HashwardenError, UsageError


def main(argv: list[str]) -> int:
    from hashwarden.agent import Agent, load_config

    try:
        if len(argv) != 1:
            raise UsageError("usage: python -m hashwarden.agent SETTINGS (see hashwarden watch)")
        try:
            payload = json.loads(argv[0])
            flags = dict(payload["flags"])
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"SETTINGS is not the agent's settings ({exc})") from None
        if payload.get("key_from_env"):
            flags["key"] = os.environ.pop("HASHWARDEN_AGENT_KEY", "")
        config = Path(payload["config"]) if payload.get("config") else None
        settings = load_config(config, flags)
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
        Agent(settings).run()
    except HashwardenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
