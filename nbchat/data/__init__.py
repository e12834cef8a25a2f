"""Conversations as data: DataFrames (``frames``), the usage chart (``plot``) and the JSON save
format (``saved``). pandas and Altair load inside the functions that use them."""
