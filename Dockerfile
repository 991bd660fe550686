# One image for both processes: `model-gateway serve` and `model-gateway bridge`.
FROM python:3.11-slim
WORKDIR /app
COPY . .
RUN python -m pip install --no-cache-dir grpcio-tools mypy-protobuf \
 && python -m pip install --no-cache-dir -e libs/common -e services/model-gateway -e bridge -e launcher \
 && python -m grpc_tools.protoc -I proto \
      -I "$(python -c 'import google.api, pathlib; print(pathlib.Path(google.api.__path__[0]).parent.parent)')" \
      --python_out=libs/common --grpc_python_out=libs/common \
      --mypy_out=libs/common --mypy_grpc_out=libs/common proto/modelgateway/v1/*.proto \
 && touch libs/common/modelgateway/__init__.py libs/common/modelgateway/v1/__init__.py
ENV MODEL_GATEWAY_CONFIG=/app/config/gateway.yaml
EXPOSE 50051 8080
CMD ["model-gateway", "serve"]
