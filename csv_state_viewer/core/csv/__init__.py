"""The CSV training-state format: index, scan, codecs, the native text parser, the writer."""
