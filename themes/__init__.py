"""The shipped Textual CSS themes, one ``NAME.tcss`` file each (see softphone/ui/themes.py).

This folder is the only copy. pyproject.toml installs it as the package
``softphone.themes``; this file makes it a regular package, which an editable
install needs to map a folder from outside ``softphone/`` into it.
"""
