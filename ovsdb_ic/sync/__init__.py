"""The IC sync engine: pure planners and the trio runner that commits their plans.

See docs/sync.md.
"""
