"""`python -m hashwarden`: the same CLI as the `hashwarden` command (for helpers that a proxy
or resolver starts with an explicit interpreter)."""

from hashwarden.cli import main

main()
