"""`model-gateway up`: the service and the REST bridge run together.

The only package that imports both the service (model_gateway) and the
bridge (model_gateway_bridge); `model-gateway up` hands over to it with
`python -m model_gateway_launcher`, so the service itself never imports the
bridge. Two topologies, one behaviour seen by a client:

- `sidecar`: per worker, a `serve` process and a bridge process talking gRPC
  over a private unix socket (sidecar.py);
- `inprocess`: per worker, one process serving the REST port and the gRPC
  port, the bridge calling the servicer in the same event loop through the
  common package's transport interface (inprocess.py).
"""

__version__ = "0.1.0"
