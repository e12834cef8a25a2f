"""Running requests: the turn runner (``turn``), the default client (``defaults``) and batch
runs over DataFrames (``batch``).

The panel, ``%%chat`` and the comparison runs start turns from here; batch runs stream each
row's request in ``batch.engine``. Nothing in this package imports a widget or IPython (the
batch progress widget imports ipywidgets only when it runs in a kernel).
"""
