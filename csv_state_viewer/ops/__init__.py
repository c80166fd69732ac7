"""The operations: one Qt-free function per user-level job, shared by the CLI and the viewer.

Each takes the core's progress/cancel object and returns result values; the command line
and the viewer's dialogs only gather arguments, call the operation and show its result.
Work that needs TensorFlow runs in a worker process (:mod:`csv_state_viewer.ops.tfworker`)
so that a crash or a freeze in TensorFlow's native code cannot take a front end down.
"""
