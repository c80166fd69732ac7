"""The ``csv-state`` command line: thin commands over the core API."""
