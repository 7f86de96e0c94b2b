"""Photos and files (issue 15): what is accepted, how it is cleaned, where it is kept.

`ports` is what the rest of the bot talks to; `rules` decides by content what may be
stored; `disk` and `blob` are the two stores; `links` signs the download links.
"""
