"""The command line of docs/protocol.md section 3: `softphone`, `softphone serve`, `--headless`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import os
import re
import ssl
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from softphone.config import (
    ConfigError,
    Settings,
    load_settings,
    regions_to_data,
    with_overrides,
)
from softphone.echo import ECHO_USER, EchoPeer
from softphone.redact import install_redaction
from softphone.rtc.configuration import Configuration
from softphone.session import MediaChoice, SessionManager
from softphone.signaling.client import JsonSignalingClient
from softphone.signaling.limits import Limits
from softphone.signaling.server import SignalingServer
from softphone.signaling.tls import TlsError, server_context
from softphone.signaling.tokens import (
    TOKEN_ENV,
    SecretError,
    command_line_token_notice,
    mint_token,
    parse_duration,
    read_secret,
)

logger = logging.getLogger("softphone")

DEFAULT_PORT = 8765


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML configuration file")
    parser.add_argument(
        "--ice-host",
        action="append",
        metavar="ADDR",
        dest="ice_host",
        help="local address to gather host candidates from (repeatable)",
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="stderr log level",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="softphone",
        description="A keyboard-driven WebRTC softphone for the terminal.",
    )
    _common_options(parser)
    parser.add_argument(
        "--headless",
        action="store_true",
        help="JSON lines on stdin/stdout instead of the terminal UI",
    )
    parser.add_argument("--user", help="your user name")
    parser.add_argument("--server", help="signaling server URL, ws://HOST:PORT/ws")
    parser.add_argument(
        "--token", help=f"signaling server token (visible in the process list: prefer ${TOKEN_ENV})"
    )
    parser.add_argument("--region", help="region to start in")
    parser.add_argument("--audio-in", help="default | tone[:HZ] | file:PATH.wav | silence")
    parser.add_argument("--audio-out", help="default | file:PATH.wav | null")
    parser.add_argument("--theme", help="UI theme")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the signaling server")
    _common_options(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (0: any free port)")
    serve.add_argument("--token", help="require this token in hello")
    serve.add_argument(
        "--secret-file",
        type=Path,
        metavar="PATH",
        help="require per-user tokens signed with the secret in PATH (or $SOFTPHONE_SECRET)",
    )
    serve.add_argument("--tls-cert", type=Path, metavar="PATH", help="serve wss:// and https://")
    serve.add_argument("--tls-key", type=Path, metavar="PATH", help="private key of --tls-cert")
    serve.add_argument(
        "--presence",
        choices=["all", "subscribed"],
        default="all",
        help="who gets presence: everybody, or only clients that subscribed to that user",
    )
    _limit_options(serve)
    serve.add_argument("--no-echo", action="store_true", help="do not run the echo user")
    serve.add_argument("--no-web", action="store_true", help="do not serve the web client at /")
    _token_command(sub)
    return parser


# (option, Limits field, type, what it limits)
_LIMIT_OPTIONS: tuple[tuple[str, str, type[float] | type[int], str], ...] = (
    ("--message-rate", "rate", float, "messages a second one connection may send"),
    ("--message-burst", "burst", int, "messages one connection may send at once"),
    (
        "--max-connections-per-address",
        "connections_per_address",
        int,
        "connections from one address",
    ),
    ("--max-pending-invites", "pending_invites", int, "unanswered invites one user may have"),
)


def _limit_options(serve: argparse.ArgumentParser) -> None:
    defaults = Limits()
    for option, name, kind, what in _LIMIT_OPTIONS:
        serve.add_argument(
            option,
            type=kind,
            default=getattr(defaults, name),
            dest=f"limit_{name}",
            metavar="N",
            help=f"{what} (default %(default)s)",
        )


def _limits(args: argparse.Namespace) -> Limits:
    return Limits(**{name: getattr(args, f"limit_{name}") for _, name, _, _ in _LIMIT_OPTIONS})


def _token_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = sub.add_parser("token", help="print a signaling token for one user")
    token.add_argument("--user", required=True, help="the user name the token is for")
    token.add_argument("--ttl", type=_duration, default="8h", help="lifetime, e.g. 30m, 8h, 7d")
    token.add_argument(
        "--secret-file", type=Path, metavar="PATH", help="secret file (or $SOFTPHONE_SECRET)"
    )


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _print_token(args: argparse.Namespace) -> int:
    """``softphone token``: a token for ``--user`` signed with the server's secret."""
    from softphone.signaling.messages import is_user_name

    if not is_user_name(args.user):
        print("softphone token: --user must be 1-64 of letters, digits, . _ -", file=sys.stderr)
        return 2
    try:
        secret = read_secret(args.secret_file)
    except SecretError as exc:
        print(f"softphone token: {exc}", file=sys.stderr)
        return 2
    if secret is None:
        print("softphone token: give --secret-file PATH or set $SOFTPHONE_SECRET", file=sys.stderr)
        return 2
    print(mint_token(secret, args.user, args.ttl))
    return 0


def default_user() -> str:
    """The login name, cut to what docs/protocol.md allows in a user name."""
    try:
        name = getpass.getuser()
    except Exception:
        name = ""
    name = re.sub(r"[^A-Za-z0-9._-]", "", name)[:64]
    return name or "me"


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    return with_overrides(
        settings,
        user=getattr(args, "user", None),
        server=getattr(args, "server", None),
        token=_client_token(args),
        region=getattr(args, "region", None),
        audio_in=getattr(args, "audio_in", None),
        audio_out=getattr(args, "audio_out", None),
        theme=getattr(args, "theme", None),
        ice_host_addresses=tuple(args.ice_host) if args.ice_host else None,
    )


def _client_token(args: argparse.Namespace) -> str | None:
    """The client's token: ``--token``, else ``$SOFTPHONE_TOKEN`` (the config file comes last)."""
    token: str | None = getattr(args, "token", None)
    if token is None and args.command is None:
        token = os.environ.get(TOKEN_ENV) or None
    return token


def _setup_logging(level: str, settings: Settings | None) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_redaction(settings)


@contextlib.asynccontextmanager
async def embedded_server(settings: Settings) -> AsyncIterator[str]:
    """A signaling server with the echo user on localhost, for a start with no configuration."""
    server = SignalingServer()
    await server.start("127.0.0.1", 0)
    echo = EchoPeer(
        JsonSignalingClient(server.url, ECHO_USER),
        configuration=Configuration(ice_transport_policy="all"),
        host_addresses=list(settings.ice_host_addresses) or None,
    )
    await echo.start()
    try:
        yield server.url
    finally:
        await echo.close()
        await server.stop()


async def _run_client(settings: Settings, started: float, headless: bool) -> int:
    async with contextlib.AsyncExitStack() as stack:
        url = settings.server
        if url is None:
            url = await stack.enter_async_context(embedded_server(settings))
            logger.info("no server configured: embedded server at %s with the echo user", url)
        user = settings.user or default_user()
        signaling = JsonSignalingClient(url, user, settings.token)
        session = SessionManager(
            settings, signaling, media=MediaChoice(settings.audio_in, settings.audio_out)
        )
        if headless:
            from softphone.headless import run_headless

            return await run_headless(session, started)
        from softphone.ui.app import SoftphoneApp

        app = SoftphoneApp(session)
        try:
            await app.run_async()
        finally:
            await session.close()  # the app closes it on quit; this covers a crash
        return app.return_code or 0
    return 0


def _server_from_args(
    args: argparse.Namespace, settings: Settings
) -> tuple[SignalingServer, ssl.SSLContext | None, str | None]:
    """The server ``serve`` runs, its TLS context, and the token the echo user registers with."""
    secret = read_secret(args.secret_file)
    if secret is not None and args.token is not None:
        raise ValueError(
            "--token and --secret-file ($SOFTPHONE_SECRET) are mutually exclusive: "
            "choose one shared token or per-user tokens"
        )
    token = None if secret is not None else args.token or settings.token
    server = SignalingServer(
        token=token,
        secret=secret,
        regions=regions_to_data(settings.regions) or None,
        presence=args.presence,
        limits=_limits(args),
    )
    return server, _serve_tls(args.tls_cert, args.tls_key), _echo_token(token, secret)


async def _serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the signaling server (and the echo user) until SIGINT/SIGTERM."""
    import signal

    try:
        server, tls, echo_token = _server_from_args(args, settings)
    except (SecretError, TlsError, ValueError) as exc:
        print(f"softphone serve: {exc}", file=sys.stderr)
        return 2
    if not args.no_web:
        from softphone.web import add_web_client

        add_web_client(server.app)
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


def _serve_tls(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """The server's TLS context from ``--tls-cert`` and ``--tls-key`` (both or neither)."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise TlsError("--tls-cert and --tls-key go together")
    return server_context(cert, key)


def _echo_token(token: str | None, secret: bytes | None) -> str | None:
    """The built-in echo user's token: the shared one, or one minted for it (a year)."""
    if secret is None:
        return token
    return mint_token(secret, ECHO_USER, 365 * 86400.0)


def main(argv: Sequence[str] | None = None) -> int:
    started = time.monotonic()
    args = build_parser().parse_args(argv)
    if args.command == "token":
        return _print_token(args)
    try:
        settings = _settings(args)
    except ConfigError as exc:
        print(f"softphone: {exc}", file=sys.stderr)
        return 2
    _setup_logging(args.log_level, settings)
    if args.command is None:
        command_line_token_notice(args.token is not None)
    try:
        if args.command == "serve":
            return asyncio.run(_serve(args, settings))
        return asyncio.run(_run_client(settings, started, args.headless))
    except KeyboardInterrupt:
        return 130
