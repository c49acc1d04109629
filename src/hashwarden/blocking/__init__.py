"""Blocking for ISPs: a hashed URL block list, exports to resolvers and proxies, a stop page."""
