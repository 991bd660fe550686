"""The gateway's core: one call's context, the stage list, failover, validation.

Policy stages (policy/) and observers (obs/) implement the protocols defined
here (`Stage`, `OutcomeSink`, `Observers`); the server wires them in.
"""
