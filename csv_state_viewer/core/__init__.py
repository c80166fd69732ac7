"""The core: formats, lazy states, codecs and conversion.

NumPy and pyarrow only: no Qt, no TensorFlow (a test and an import-linter contract check it).
"""
