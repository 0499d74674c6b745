"""The ``fusion-bridge`` command: one module per group of sub-commands, registered in ``main``."""
