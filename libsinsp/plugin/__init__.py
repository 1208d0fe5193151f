"""Falco plugins: C plugins (API 3.x) loaded with cffi, and plugins written in Python.

See ``manager.PluginManager`` for the entry point and ``python_api`` for
writing a plugin in Python.
"""
