"""``python -m hsmsim``: the same as the ``hsmsim`` command."""

from hsmsim._cli import main

main()
