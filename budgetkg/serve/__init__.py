"""Serve a budgetkg build read-only over HTTP: SPARQL endpoint, linked-data pages, downloads.

Entry points for the command line: :func:`budgetkg.serve.app.run` and
:func:`budgetkg.serve.app.create_app`, configured by :class:`ServeConfig`.
"""

from budgetkg.serve.config import ServeConfig

__all__ = ["ServeConfig"]
