"""Running requests: the turn runner (``turn``) and the default client (``defaults``).

The panel, ``%%chat`` and the batch and comparison runs all start turns from here; nothing in
this package imports a widget or IPython.
"""
