"""Unit tests of the event contracts.

A package, so pytest names these modules ``unit.*`` and does not shadow ``contracts``.
"""
