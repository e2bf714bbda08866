"""The command line of docs/protocol.md section 3: `softphone`, `serve`, `history`, `--headless`.

Parsing the arguments (and printing ``--help``) imports nothing but the
standard library: aiortc, av, numpy and aiohttp take most of a second and tens
of MiB to import, so each mode imports the session stack, the signaling server
or the configuration loader only once it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from softphone.signaling import limit_defaults

if TYPE_CHECKING:
    from softphone.config import Region, Settings
    from softphone.session import SessionManager
    from softphone.signaling.adapter import Signaling

DEFAULT_PORT = 8765


def _common_options(parser: argparse.ArgumentParser, *, inherited: bool = False) -> None:
    """Options both before and after ``serve``.

    ``inherited`` (the ``serve`` copy) gives them no defaults: argparse lets a
    subcommand's defaults overwrite what was given before it, which would turn
    ``softphone --log-level DEBUG serve`` back into WARNING.
    """
    unset = argparse.SUPPRESS if inherited else None
    parser.add_argument("--config", type=Path, default=unset, help="TOML configuration file")
    parser.add_argument(
        "--ice-host",
        action="append",
        metavar="ADDR",
        dest="ice_host",
        default=unset,
        help="local address to gather host candidates from (repeatable)",
    )
    parser.add_argument(
        "--log-level",
        default=unset or "WARNING",
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
        "--token",
        help="signaling server token (visible in the process list: prefer $SOFTPHONE_TOKEN)",
    )
    parser.add_argument(
        "--ca-file", type=Path, metavar="PATH", help="also trust this CA for a wss:// server"
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        default=None,
        help="do not verify the wss:// server's certificate (test benches only)",
    )
    parser.add_argument("--sip-uri", help="SIP mode: your address of record, sip:user@domain")
    parser.add_argument(
        "--sip-ws", help="SIP mode: the SIP server's ws(s):// URL (the password: file or env only)"
    )
    parser.add_argument("--region", help="region to start in")
    parser.add_argument(
        "--audio-in", help="default | tone[:HZ] | file:PATH.wav | silence | DEVICE (name or index)"
    )
    parser.add_argument("--audio-out", help="default | file:PATH.wav | null | DEVICE")
    parser.add_argument("--theme", help="UI theme")
    parser.add_argument(
        "--auto-answer",
        action="store_true",
        default=None,
        help="answer every incoming call at once (a test rig, a monitor)",
    )
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the signaling server")
    _common_options(serve, inherited=True)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (0: any free port)")
    serve.add_argument("--token", default=argparse.SUPPRESS, help="require this token in hello")
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
    serve.add_argument(
        "--redis",
        metavar="URL",
        help="join the nodes sharing this Redis, redis://HOST:PORT/DB (section 1, Many nodes)",
    )
    serve.add_argument(
        "--node", help="this node's name among the --redis nodes (default: HOST:PORT)"
    )
    serve.add_argument("--no-echo", action="store_true", help="do not run the echo user")
    serve.add_argument("--no-web", action="store_true", help="do not serve the web client at /")
    serve.add_argument(
        "--demo-regions",
        action="store_true",
        help="also run two local coturn regions on loopback and offer them (needs coturn)",
    )
    _token_command(sub)
    _probe_command(sub)
    devices = sub.add_parser("devices", help="list the sound devices --audio-in/--audio-out take")
    devices.add_argument("--json", action="store_true", help="one JSON object a line")
    history = sub.add_parser("history", help="print the call history, newest first")
    history.add_argument("--json", action="store_true", help="one JSON object a line")
    return parser


def _probe_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    probe = sub.add_parser("probe", help="check every ICE server of every region, rank regions")
    _common_options(probe, inherited=True)
    probe.add_argument("--region", default=argparse.SUPPRESS, help="probe this region only")
    probe.add_argument("--json", action="store_true", help="one JSON object a line")
    probe.add_argument(
        "--timeout", type=float, default=2.0, metavar="S", help="bound of each check (default 2)"
    )
    probe.add_argument(
        "--candidates", action="store_true", help="also list the candidates each region yields"
    )


# (option, Limits field, type, its default, what it limits)
LIMIT_OPTIONS: tuple[tuple[str, str, type[float] | type[int], float, str], ...] = (
    (
        "--message-rate",
        "rate",
        float,
        limit_defaults.RATE,
        "messages a second one connection may send",
    ),
    (
        "--message-burst",
        "burst",
        int,
        limit_defaults.BURST,
        "messages one connection may send at once",
    ),
    (
        "--max-connections-per-address",
        "connections_per_address",
        int,
        limit_defaults.CONNECTIONS_PER_ADDRESS,
        "connections from one address",
    ),
    (
        "--max-pending-invites",
        "pending_invites",
        int,
        limit_defaults.PENDING_INVITES,
        "unanswered invites one user may have",
    ),
)


def _limit_options(serve: argparse.ArgumentParser) -> None:
    for option, name, kind, default, what in LIMIT_OPTIONS:
        serve.add_argument(
            option,
            type=kind,
            default=default,
            dest=f"limit_{name}",
            metavar="N",
            help=f"{what} (default %(default)s)",
        )


def _token_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = sub.add_parser("token", help="print a signaling token for one user")
    token.add_argument("--user", required=True, help="the user name the token is for")
    token.add_argument("--ttl", default="8h", help="lifetime, e.g. 30m, 8h, 7d (default 8h)")
    token.add_argument(
        "--secret-file", type=Path, metavar="PATH", help="secret file (or $SOFTPHONE_SECRET)"
    )


def default_user() -> str:
    """The login name, cut to what docs/protocol.md allows in a user name."""
    import getpass

    try:
        name = getpass.getuser()
    except Exception:
        name = ""
    name = re.sub(r"[^A-Za-z0-9._-]", "", name)[:64]
    return name or "me"


def _settings(args: argparse.Namespace) -> Settings:
    from softphone.config import load_settings, with_overrides

    settings = load_settings(args.config)
    sip_uri, sip_ws = getattr(args, "sip_uri", None), getattr(args, "sip_ws", None)
    return with_overrides(
        settings,
        user=getattr(args, "user", None),
        server=getattr(args, "server", None),
        token=_client_token(args),
        region=getattr(args, "region", None),
        audio_in=getattr(args, "audio_in", None),
        audio_out=getattr(args, "audio_out", None),
        theme=getattr(args, "theme", None),
        ca_file=getattr(args, "ca_file", None),
        insecure=getattr(args, "insecure", None),
        auto_answer=getattr(args, "auto_answer", None),
        ice_host_addresses=tuple(args.ice_host) if args.ice_host else None,
        sip_uri=sip_uri,
        sip_ws=sip_ws,
        signaling="sip" if sip_uri or sip_ws else None,  # either option means SIP mode
    )


def _client_token(args: argparse.Namespace) -> str | None:
    """The client's token: ``--token``, else ``$SOFTPHONE_TOKEN`` (the config file comes last)."""
    import os

    token: str | None = getattr(args, "token", None)
    if token is None and args.command is None:
        token = os.environ.get("SOFTPHONE_TOKEN") or None
    return token


def _setup_logging(level: str, settings: Settings | None) -> None:
    import logging

    from softphone.redact import install_redaction

    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_redaction(settings)


@contextlib.asynccontextmanager
async def embedded_server(
    settings: Settings, *, demo: list[Region] | None = None
) -> AsyncIterator[str]:
    """A signaling server with the echo user on localhost, for a start with no configuration.

    ``demo``: also run two local coturn regions (when coturn is installed),
    offer them in ``welcome`` (:mod:`softphone.demo_regions`) and put them in
    this list, which stays empty when they could not be started.
    """
    from softphone.config import regions_to_data
    from softphone.demo_regions import demo_regions
    from softphone.echo import ECHO_USER, EchoPeer
    from softphone.rtc.configuration import Configuration
    from softphone.signaling.client import JsonSignalingClient
    from softphone.signaling.server import SignalingServer

    async with contextlib.AsyncExitStack() as stack:
        regions = await stack.enter_async_context(demo_regions()) if demo is not None else ()
        if demo is not None:
            demo.extend(regions)
        server = SignalingServer(regions=regions_to_data(regions) or None)
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


def wants_demo_regions(settings: Settings) -> bool:
    """The no-setup start: no server and no region of one's own (docs/protocol.md 3)."""
    return settings.server is None and not settings.regions


def demo_settings(settings: Settings) -> Settings:
    """Relay only with the demo regions, so a switch visibly moves the call's path.

    On loopback a host pair would always win over a relay one, and switching
    regions would restart ICE only to select the same host pair again.
    """
    import dataclasses

    return dataclasses.replace(settings, ice_transport_policy="relay")


def sip_signaling(settings: Settings) -> Signaling:
    """The SIP over WebSocket adapter from the ``sip_*`` settings (checked complete here)."""
    from softphone.signaling.sip.adapter import SipConfig, SipSignaling
    from softphone.signaling.sip.settings import password_from

    assert settings.sip_uri and settings.sip_ws  # main() refused to start without them
    return SipSignaling(
        SipConfig(
            uri=settings.sip_uri,
            ws=settings.sip_ws,
            password=password_from(settings.sip_password),
            auth_user=settings.sip_auth_user,
            outbound_proxy=settings.sip_outbound_proxy,
            display_name=settings.sip_display_name,
        )
    )


async def _run_client(settings: Settings, started: float, headless: bool) -> int:
    async with contextlib.AsyncExitStack() as stack:

        async def open_session() -> SessionManager:
            """Build the session; imported here so the UI can draw before aiortc loads."""
            import logging

            from softphone.session import MediaChoice, SessionManager
            from softphone.signaling.client import JsonSignalingClient

            if settings.signaling == "sip":
                return SessionManager(
                    settings,
                    sip_signaling(settings),
                    media=MediaChoice(settings.audio_in, settings.audio_out),
                )
            session_settings = settings
            url = settings.server
            if url is None:
                demo: list[Region] | None = [] if wants_demo_regions(settings) else None
                url = await stack.enter_async_context(embedded_server(settings, demo=demo))
                logging.getLogger("softphone").info(
                    "no server configured: embedded server at %s with the echo user", url
                )
                if demo:
                    session_settings = demo_settings(settings)
            user = settings.user or default_user()
            signaling = JsonSignalingClient(
                url,
                user,
                settings.token,
                contacts=settings.contacts,
                ca_file=settings.ca_file,
                insecure=settings.insecure,
            )
            return SessionManager(
                session_settings,
                signaling,
                media=MediaChoice(settings.audio_in, settings.audio_out),
            )

        if headless:
            from softphone.headless import run_headless

            return await run_headless(await open_session(), started)
        from softphone.ui.app import SoftphoneApp

        # The UI draws first and calls open_session after (the media stack loads meanwhile).
        app = SoftphoneApp(open_session, theme=settings.theme)
        try:
            await app.run_async()
        finally:
            if app.session is not None:
                await app.session.close()  # the app closes it on quit; this covers a crash
        return app.return_code or 0
    return 0


def _audio_problem(settings: Settings) -> str | None:
    """Why a device named by --audio-in/--audio-out cannot be used (sounddevice loads only then)."""
    from softphone.device_list import check_specs, is_device_spec

    if not (is_device_spec(settings.audio_in) or is_device_spec(settings.audio_out)):
        return None
    return check_specs(settings.audio_in, settings.audio_out)


def main(argv: Sequence[str] | None = None) -> int:
    started = time.monotonic()
    args = build_parser().parse_args(argv)
    if args.command == "token":
        from softphone.serve import print_token

        return print_token(args)
    if args.command == "devices":
        from softphone.device_list import print_devices

        return print_devices(args.json, sys.stdout)
    if args.command == "history":
        from softphone.history import print_history

        return print_history(args.json)
    import asyncio

    from softphone.config import ConfigError
    from softphone.signaling.tls import TlsError

    try:
        settings = _settings(args)
        if settings.signaling == "sip" and not (settings.sip_uri and settings.sip_ws):
            raise ConfigError(
                'signaling = "sip" needs sip_uri and sip_ws (in the file or --sip-uri/--sip-ws)'
            )
    except ConfigError as exc:
        print(f"softphone: {exc}", file=sys.stderr)
        return 2
    _setup_logging(args.log_level, settings)
    if args.headless or args.command == "serve":
        from softphone.eventloop import install_fast_loop

        install_fast_loop()
    try:
        if args.command == "probe":
            from softphone.probe import run_probe

            return asyncio.run(run_probe(args, settings))
        if args.command == "serve":
            from softphone.serve import run_serve

            return asyncio.run(run_serve(args, settings))
        problem = _audio_problem(settings)
        if problem is not None:
            print(f"softphone: {problem}", file=sys.stderr)
            return 2
        if args.token is not None:
            from softphone.signaling.tokens import command_line_token_notice

            command_line_token_notice(token_from_command_line=True)
        return asyncio.run(_run_client(settings, started, args.headless))
    except TlsError as exc:  # an unusable --ca-file, found when the client is built
        print(f"softphone: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
