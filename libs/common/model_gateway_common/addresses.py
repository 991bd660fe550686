"""`host:port` listen addresses as the config writes them."""

from __future__ import annotations


def split_host_port(address: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """`127.0.0.1:8080` → ("127.0.0.1", 8080); `[::1]:80` → ("::1", 80); `:9090` → (default, 9090)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"'{address}' is not host:port")
    return host.strip("[]") or default_host, int(port)
