"""P2P file identifiers (eDonkey, Tiger Tree Hash, BitTorrent) and matching P2P observations."""
