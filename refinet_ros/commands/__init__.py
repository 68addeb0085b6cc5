"""Subcommands of the ``refinet`` CLI; each module adds its parser and handler."""
