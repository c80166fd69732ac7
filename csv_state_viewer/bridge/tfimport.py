"""Importing TensorFlow and Keras quietly, only when a TensorFlow feature is used."""

from __future__ import annotations

import os
from types import ModuleType


def _quiet() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no C++ info/warning banners
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def tensorflow() -> ModuleType:
    _quiet()
    import tensorflow as tf

    return tf


def keras() -> ModuleType:
    _quiet()
    import keras

    return keras
