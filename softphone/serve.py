"""``softphone serve`` and ``softphone token``: the signaling server as a program.

The command line (:mod:`softphone.cli`) only parses; this module turns the
parsed options into a running :class:`~softphone.signaling.server.SignalingServer`
with its TLS context, limits, per-user tokens and the built-in echo user, and
mints the tokens that server accepts. Every refused option is one line on
stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import re
import signal
import ssl
import sys
from pathlib import Path
from typing import Any

from softphone.config import Settings, regions_to_data
from softphone.echo import ECHO_USER, EchoPeer
from softphone.signaling.client import JsonSignalingClient
from softphone.signaling.limits import Limits
from softphone.signaling.messages import is_user_name
from softphone.signaling.server import SignalingServer
from softphone.signaling.tls import TlsError, server_context
from softphone.signaling.tokens import SecretError, mint_token, parse_duration, read_secret

# The echo user's own token when the server signs per-user tokens.
ECHO_TOKEN_TTL = 365 * 86400.0

_NODE_NAME = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def print_token(args: argparse.Namespace) -> int:
    """``softphone token``: a token for ``--user`` signed with the server's secret."""
    if not is_user_name(args.user):
        return _refuse("token", "--user must be 1-64 of letters, digits, . _ -")
    try:
        ttl = parse_duration(args.ttl)
        secret = read_secret(args.secret_file)
    except (SecretError, ValueError) as exc:
        return _refuse("token", str(exc))
    if secret is None:
        return _refuse("token", "give --secret-file PATH or set $SOFTPHONE_SECRET")
    print(mint_token(secret, args.user, ttl))
    return 0


async def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the signaling server (and the echo user, and the demo regions) until SIGINT/SIGTERM."""
    if not getattr(args, "demo_regions", False):
        return await _serve(args, settings)
    from softphone.demo_regions import HOW_TO_GET_THEM, demo_regions

    async with demo_regions() as demo:
        if not demo:
            print(f"softphone serve: --demo-regions: {HOW_TO_GET_THEM}", file=sys.stderr)
        for region in demo:
            print(f"demo region {region.name}: {region.ice_servers[0].urls[0]}", flush=True)
        regions = settings.regions + demo
        return await _serve(args, dataclasses.replace(settings, regions=regions))


async def _serve(args: argparse.Namespace, settings: Settings) -> int:
    try:
        server, tls, echo_token = _server_from_args(args, settings)
    except (SecretError, TlsError, ValueError) as exc:
        return _refuse("serve", str(exc))
    if not args.no_web:
        from softphone.web import add_web_client

        add_web_client(server.app)
    if getattr(args, "redis", None):
        from softphone.signaling.cluster.link import ClusterError

        try:
            await server.start(args.host, args.port, ssl_context=tls)
        except ClusterError as exc:
            return _refuse("serve", str(exc))
    else:
        await server.start(args.host, args.port, ssl_context=tls)
    echo: EchoPeer | None = None
    if not args.no_echo:
        echo = EchoPeer(
            # In-process, to our own socket: nothing on the path to verify against.
            JsonSignalingClient(server.url, ECHO_USER, echo_token, insecure=tls is not None),
            host_addresses=list(settings.ice_host_addresses) or None,
        )
        await echo.start()
    print(f"listening on {server.url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        if echo is not None:
            await echo.close()
        await server.stop()
    return 0


def _server_from_args(
    args: argparse.Namespace, settings: Settings
) -> tuple[SignalingServer, ssl.SSLContext | None, str | None]:
    """The server ``serve`` runs, its TLS context, and the token the echo user registers with."""
    secret = read_secret(args.secret_file)
    shared_token = getattr(args, "token", None)
    if secret is not None and shared_token is not None:
        raise ValueError(
            "--token and --secret-file ($SOFTPHONE_SECRET) are mutually exclusive: "
            "choose one shared token or per-user tokens"
        )
    token = None if secret is not None else shared_token or settings.token
    given = {f.name: getattr(args, f"limit_{f.name}", None) for f in dataclasses.fields(Limits)}
    limits = Limits(**{name: value for name, value in given.items() if value is not None})
    options: dict[str, Any] = {
        "token": token,
        "secret": secret,
        "regions": regions_to_data(settings.regions) or None,
        "presence": args.presence,
        "limits": limits,
    }
    redis_url = getattr(args, "redis", None)
    server = (
        _clustered_server(redis_url, getattr(args, "node", None), options)
        if redis_url
        else SignalingServer(**options)
    )
    echo_token = token if secret is None else mint_token(secret, ECHO_USER, ECHO_TOKEN_TTL)
    return server, _serve_tls(args.tls_cert, args.tls_key), echo_token


def _clustered_server(url: str, node: str | None, options: dict[str, Any]) -> SignalingServer:
    """A node of the ``--redis`` cluster; the redis package is imported only here."""
    if node is not None and not _NODE_NAME.fullmatch(node):
        raise ValueError("--node must be 1-64 of letters, digits, . _ : -")
    from softphone.redact import install_redaction
    from softphone.signaling.cluster.link import ClusterError, RedisLink
    from softphone.signaling.cluster.server import ClusteredServer
    from softphone.signaling.cluster.urls import redis_secrets

    install_redaction(None, redis_secrets(url))
    try:
        link = RedisLink(url)
    except ClusterError as exc:
        raise ValueError(str(exc)) from None
    return ClusteredServer(link, node=node, local_names=frozenset({ECHO_USER}), **options)


def _serve_tls(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """The server's TLS context from ``--tls-cert`` and ``--tls-key`` (both or neither)."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise TlsError("--tls-cert and --tls-key go together")
    return server_context(cert, key)


def _refuse(command: str, message: str) -> int:
    print(f"softphone {command}: {message}", file=sys.stderr)
    return 2
