"""Example plugins written with libsinsp.plugin.python_api."""
