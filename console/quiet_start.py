"""Importing this module is a command's quiet start (see console.quiet): every command
imports it before anything that may import TensorFlow."""

from console.quiet import quiet_start

quiet_start()
