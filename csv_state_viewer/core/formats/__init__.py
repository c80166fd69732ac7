"""The formats the core reads and writes without TensorFlow; each module defines ``FORMAT``.

A new TensorFlow-free format is one module here plus its name in
:data:`csv_state_viewer.core.registry.BUILTIN`.
"""
