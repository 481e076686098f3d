pytest_plugins = ["ovsdb_ic.testing.pytest_plugin"]
