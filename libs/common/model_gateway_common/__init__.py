"""What the Model Gateway service and its REST bridge share, and nothing heavy.

The generated contract (`modelgateway.v1`) is built beside this package. The
dependency rule: bridge → common ← service; neither imports the other.
"""

__version__ = "0.1.0"
