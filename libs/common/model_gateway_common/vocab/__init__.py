"""Each dialect's names for the canonical enums (roles, finish reasons), written once.

A front door (bridge) and a provider (service) that speak the same dialect
read the same table, so the two directions cannot drift apart.
"""
