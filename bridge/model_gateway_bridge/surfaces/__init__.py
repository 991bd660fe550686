"""One module per REST dialect: parse → canonical proto → gRPC → frame."""
