"""``python -m orderhub``: the same command line as the ``orderhub`` script."""

from orderhub.cli import main

main()
