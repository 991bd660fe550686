"""The gRPC server's bounds on clients (server.clients) become grpc core options."""

from __future__ import annotations

from model_gateway.config import parse_config
from model_gateway.server import server_options
from model_gateway.stream_caps import key_of


def test_defaults_enforce_keepalive_streams_and_connection_age() -> None:
    options = dict(server_options(parse_config("{}")))
    assert options["grpc.max_concurrent_streams"] == 100
    assert options["grpc.keepalive_time_ms"] == 60_000 and options["grpc.keepalive_timeout_ms"] == 20_000
    assert options["grpc.http2.min_ping_interval_without_data_ms"] == 10_000
    assert options["grpc.http2.max_ping_strikes"] == 2
    assert options["grpc.max_connection_age_ms"] == 3_600_000
    assert options["grpc.max_connection_age_grace_ms"] == 600_000
    assert "grpc.max_connection_idle_ms" not in options


def test_each_bound_follows_the_config() -> None:
    config = parse_config(
        "server:\n  clients: {max_streams_per_connection: 8, keepalive_time_s: 30, max_connection_age_s: 60,"
        " max_connection_age_grace_s: 5, max_connection_idle_s: 120, min_client_ping_interval_s: 1}\n"
    )
    options = dict(server_options(config))
    assert options["grpc.max_concurrent_streams"] == 8
    assert options["grpc.keepalive_time_ms"] == 30_000
    assert options["grpc.max_connection_age_ms"] == 60_000
    assert options["grpc.max_connection_age_grace_ms"] == 5_000
    assert options["grpc.max_connection_idle_ms"] == 120_000
    assert options["grpc.http2.min_ping_interval_without_data_ms"] == 1_000


def test_tls_settings_are_checked_at_start() -> None:
    config = parse_config("server:\n  tls: {cert: /etc/gw.crt, key: /etc/gw.key, client_ca: /etc/ca.pem}\n")
    assert config.server.tls is not None and config.server.tls.client_ca == "/etc/ca.pem"


def test_streams_are_counted_by_a_hash_of_the_key_never_the_key() -> None:
    a = key_of([("authorization", "Bearer sk-abc")])
    assert a == key_of([("x-api-key", "sk-abc")]) and a is not None and "sk-abc" not in a
    assert key_of([("x-request-id", "1")]) is None
