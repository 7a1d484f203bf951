"""The operator's tools, apart from the platform (``common/``) and the services: the ``bpc``
command (``ops.cli``), the process that runs one service (``ops.runner``), and the demo data
(``ops.demo``)."""
