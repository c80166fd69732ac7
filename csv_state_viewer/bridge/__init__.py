"""The bridge to TensorFlow and Keras: native formats in, states into models, checkpoints out.

Importing this package does not import TensorFlow; each function that needs it imports
it when called, so opening a CSV stays fast.
"""
