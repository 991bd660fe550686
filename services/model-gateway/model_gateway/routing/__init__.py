"""Which deployments can serve a model, and in what order to try them."""
