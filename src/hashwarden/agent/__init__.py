"""The endpoint agent (`hashwarden watch`): notices known material the moment it lands on a
computer (written, copied, moved in, unpacked, or on a medium plugged in), by its hashes
matched against a local bank kept current by signed sync, and alerts the match service.

Nothing of a file leaves the computer but its hashes and metadata (docs/agent.md).
"""

from hashwarden.agent.config import AgentConfig, load_config
from hashwarden.agent.run import Agent
from hashwarden.agent.state import read_status

__all__ = ["Agent", "AgentConfig", "load_config", "read_status"]
