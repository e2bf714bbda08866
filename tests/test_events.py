"""Every session event's JSON, pinned: headless prints exactly these names, fields and types.

Scripts, the browser tests and docs/protocol.md depend on the JSON lines, so a
change here is a contract change (extend only, never rename or remove).
"""

from __future__ import annotations

import io
import json

import pytest

from softphone import events as ev
from softphone.headless import JsonLinesWriter
from tests.event_codec import event_classes, event_from_json

LOCAL = ev.CandidateInfo(
    type="relay", protocol="udp", address="127.0.0.3", port=50002, url="turn:127.0.0.1:3479"
)
REMOTE = ev.CandidateInfo(type="host", protocol="udp", address="127.0.0.1", port=40000)
PAIR = ev.PairInfo(local=LOCAL, remote=REMOTE)
LOCAL_JSON = (
    '{"type":"relay","protocol":"udp","address":"127.0.0.3","port":50002,'
    '"url":"turn:127.0.0.1:3479"}'
)
REMOTE_JSON = '{"type":"host","protocol":"udp","address":"127.0.0.1","port":40000}'
PAIR_JSON = f'{{"local":{LOCAL_JSON},"remote":{REMOTE_JSON}}}'
NO_URL_PAIR = ev.PairInfo(local=REMOTE, remote=REMOTE)

PINNED: list[tuple[ev.Event, str]] = [
    (
        ev.Registered(user="alice", online=("bob", "echo")),
        '{"event":"registered","user":"alice","online":["bob","echo"]}',
    ),
    (
        ev.PresenceChanged(user="bob", online=False),
        '{"event":"presence","user":"bob","online":false}',
    ),
    (
        ev.SignalingChanged(state="reconnecting", detail="gone", retry_in=1.5),
        '{"event":"signaling","state":"reconnecting","detail":"gone","retry_in":1.5}',
    ),
    (ev.SignalingChanged(state="connected"), '{"event":"signaling","state":"connected"}'),
    (
        ev.RegionsAdopted(names=("eu", "us"), source="server"),
        '{"event":"regions","names":["eu","us"],"source":"server"}',
    ),
    (
        ev.CredentialsRefreshed(regions=("eu",), expires_in=3, call="c1"),
        '{"event":"credentials-refreshed","regions":["eu"],"expires_in":3,"call":"c1"}',
    ),
    (
        ev.CredentialsRefreshed(regions=("eu",)),
        '{"event":"credentials-refreshed","regions":["eu"]}',
    ),
    (
        ev.IncomingCall(call="c1", from_="bob"),
        '{"event":"incoming","call":"c1","from":"bob"}',
    ),
    (
        ev.CallStateChanged(call="c1", state="dialing", to="echo"),
        '{"event":"call-state","call":"c1","state":"dialing","to":"echo"}',
    ),
    (
        ev.CallStateChanged(call="c1", state="incoming", from_="bob"),
        '{"event":"call-state","call":"c1","state":"incoming","from":"bob"}',
    ),
    (
        ev.CallStateChanged(call="c1", state="ended", reason="hangup"),
        '{"event":"call-state","call":"c1","state":"ended","reason":"hangup"}',
    ),
    (
        ev.CallStateChanged(call="c1", state="active"),
        '{"event":"call-state","call":"c1","state":"active"}',
    ),
    (
        ev.MissedCall(call="c2", from_="carol", reason="busy"),
        '{"event":"missed","call":"c2","from":"carol","reason":"busy"}',
    ),
    (ev.CallResumed(call="c1", by="us"), '{"event":"call-resumed","call":"c1","by":"us"}'),
    (ev.MuteChanged(on=True), '{"event":"mute","on":true}'),
    (
        ev.HoldChanged(call="c1", on=True, by="remote"),
        '{"event":"hold","call":"c1","on":true,"by":"remote"}',
    ),
    (
        ev.DtmfReceived(call="c1", digit="#", duration_ms=100),
        '{"event":"dtmf","call":"c1","digit":"#","duration_ms":100}',
    ),
    (
        ev.DtmfSent(call="c1", digit="5", duration_ms=250),
        '{"event":"dtmf-sent","call":"c1","digit":"5","duration_ms":250}',
    ),
    (
        ev.ActiveCallChanged(call="c2", held=("c1",)),
        '{"event":"active-call","call":"c2","held":["c1"]}',
    ),
    (ev.ActiveCallChanged(call=None, held=()), '{"event":"active-call","call":null,"held":[]}'),
    (ev.DndChanged(on=True), '{"event":"dnd","on":true}'),
    (
        ev.SignalingStateChanged(state="have-local-offer"),
        '{"event":"signaling-state","state":"have-local-offer"}',
    ),
    (
        ev.IceGatheringStateChanged(state="complete"),
        '{"event":"ice-gathering-state","state":"complete"}',
    ),
    (
        ev.IceConnectionStateChanged(state="checking"),
        '{"event":"ice-connection-state","state":"checking"}',
    ),
    (
        ev.ConnectionStateChanged(state="connected"),
        '{"event":"connection-state","state":"connected"}',
    ),
    (ev.NegotiationNeeded(), '{"event":"negotiationneeded"}'),
    (
        ev.ConnectionStateChanged(state="connected", call="c1"),
        '{"event":"connection-state","state":"connected","call":"c1"}',
    ),
    (ev.NegotiationNeeded(call="c1"), '{"event":"negotiationneeded","call":"c1"}'),
    (
        ev.SelectedPairChanged(local=LOCAL, remote=REMOTE),
        f'{{"event":"selected-pair","local":{LOCAL_JSON},"remote":{REMOTE_JSON}}}',
    ),
    (ev.OfferSent(call="c1"), '{"event":"offer-sent","call":"c1"}'),
    (ev.AnswerSent(call="c1"), '{"event":"answer-sent","call":"c1"}'),
    (ev.OfferReceived(call="c1"), '{"event":"offer-received","call":"c1"}'),
    (ev.AnswerReceived(call="c1"), '{"event":"answer-received","call":"c1"}'),
    (ev.PranswerReceived(call="c1"), '{"event":"pranswer-received","call":"c1"}'),
    (
        ev.RegionChanged(name="eu", urls=("stun:127.0.0.1:3478",)),
        '{"event":"region","name":"eu","urls":["stun:127.0.0.1:3478"]}',
    ),
    (
        ev.ConfigurationSet(region="us", urls=()),
        '{"event":"set-configuration","region":"us","urls":[]}',
    ),
    (
        ev.IceServerChecked(region="eu", url="stun:127.0.0.1:3478", ok=True, rtt_ms=0.4),
        '{"event":"ice-server","region":"eu","url":"stun:127.0.0.1:3478","ok":true,"rtt_ms":0.4}',
    ),
    (
        ev.IceServerChecked(region="eu", url="turn:h", ok=False, error="no answer within 2 s"),
        '{"event":"ice-server","region":"eu","url":"turn:h","ok":false,'
        '"error":"no answer within 2 s"}',
    ),
    (
        ev.IceRestartBegun(call="c1", ufrag="abcd", side="local", attempt=1),
        '{"event":"ice-restart","call":"c1","phase":"begun","ufrag":"abcd","side":"local",'
        '"attempt":1}',
    ),
    (
        ev.IceRestartGathered(
            call="c1",
            ufrag="abcd",
            candidates=2,
            elapsed_ms=12.5,
            failures=(ev.GatheringFailure(url="turn:h:3478", reason="no answer (timed out)"),),
        ),
        '{"event":"ice-restart","call":"c1","phase":"gathered","ufrag":"abcd","candidates":2,'
        '"elapsed_ms":12.5,"failures":[{"url":"turn:h:3478","reason":"no answer (timed out)"}]}',
    ),
    (
        ev.IceRestartChecking(call="c1", ufrag="abcd"),
        '{"event":"ice-restart","call":"c1","phase":"checking","ufrag":"abcd"}',
    ),
    (
        ev.IceRestartDone(call="c1", ufrag="abcd", elapsed_ms=80.1, pair=NO_URL_PAIR, attempt=1),
        '{"event":"ice-restart","call":"c1","phase":"done","ufrag":"abcd","elapsed_ms":80.1,'
        f'"pair":{{"local":{REMOTE_JSON},"remote":{REMOTE_JSON}}},"attempt":1}}',
    ),
    (
        ev.IceRestartFailed(
            call="c1",
            ufrag="abcd",
            reason="timeout",
            kept_old_path=True,
            attempt=1,
            will_retry=True,
        ),
        '{"event":"ice-restart","call":"c1","phase":"failed","ufrag":"abcd","reason":"timeout",'
        '"kept_old_path":true,"attempt":1,"will_retry":true}',
    ),
    (
        ev.IceRestartFailed(call="c1", ufrag="abcd", reason="rolled back"),
        '{"event":"ice-restart","call":"c1","phase":"failed","ufrag":"abcd",'
        '"reason":"rolled back"}',
    ),
    (
        ev.StatsReport(
            call="c1",
            rtt_ms=None,
            jitter_ms=0.8,
            packets_sent=50,
            packets_received=49,
            packets_lost=1,
            bytes_sent=8000,
            bytes_received=7840,
            selected_pair=None,
        ),
        '{"event":"stats","call":"c1","rtt_ms":null,"jitter_ms":0.8,"packets_sent":50,'
        '"packets_received":49,"packets_lost":1,"bytes_sent":8000,"bytes_received":7840,'
        '"selected_pair":null}',
    ),
    (
        ev.StatsReport(
            call="c1",
            rtt_ms=1.2,
            jitter_ms=None,
            packets_sent=50,
            packets_received=50,
            packets_lost=0,
            bytes_sent=8000,
            bytes_received=8000,
            selected_pair=PAIR,
            audio_frames_received=50,
            audio_seconds_received=1.0,
            audio_max_gap_ms=20.0,
            audio_max_gap_since_last_stats_ms=20.0,
        ),
        '{"event":"stats","call":"c1","rtt_ms":1.2,"jitter_ms":null,"packets_sent":50,'
        '"packets_received":50,"packets_lost":0,"bytes_sent":8000,"bytes_received":8000,'
        f'"selected_pair":{PAIR_JSON},"audio_frames_received":50,"audio_seconds_received":1.0,'
        '"audio_max_gap_ms":20.0,"audio_max_gap_since_last_stats_ms":20.0}',
    ),
    (
        ev.StatsReport(
            call="c1",
            rtt_ms=1.2,
            jitter_ms=0.5,
            packets_sent=50,
            packets_received=50,
            packets_lost=0,
            bytes_sent=8000,
            bytes_received=8000,
            selected_pair=None,
            mos=4.41,
        ),
        '{"event":"stats","call":"c1","rtt_ms":1.2,"jitter_ms":0.5,"packets_sent":50,'
        '"packets_received":50,"packets_lost":0,"bytes_sent":8000,"bytes_received":8000,'
        '"selected_pair":null,"mos":4.41}',
    ),
    (
        ev.QualityWarning(call="c1", name="high-packet-loss", value=4.86, threshold=3.0),
        '{"event":"quality-warning","call":"c1","name":"high-packet-loss","value":4.86,'
        '"threshold":3.0}',
    ),
    (
        ev.QualityWarningCleared(call="c1", name="high-rtt", value=120.5, threshold=400.0),
        '{"event":"quality-warning-cleared","call":"c1","name":"high-rtt","value":120.5,'
        '"threshold":400.0}',
    ),
    (
        ev.IceRestartGathered(
            call="c1", ufrag="abcd", candidates=1, elapsed_ms=9.5, failures=(), standby=True
        ),
        '{"event":"ice-restart","call":"c1","phase":"gathered","ufrag":"abcd","candidates":1,'
        '"elapsed_ms":9.5,"failures":[],"standby":true}',
    ),
    (
        ev.StandbyReady(call="c1", region="us-east", candidates=1, elapsed_ms=12.5),
        '{"event":"standby","call":"c1","phase":"ready","region":"us-east","candidates":1,'
        '"elapsed_ms":12.5}',
    ),
    (
        ev.StandbyFailed(call="c1", region="dead", reason="no candidates: turn:h:3478: timed out"),
        '{"event":"standby","call":"c1","phase":"failed","region":"dead",'
        '"reason":"no candidates: turn:h:3478: timed out"}',
    ),
    (
        ev.MediaLost(call="c1", silent_ms=512.6, packets_missed=25, confirmed_by="consent"),
        '{"event":"media-lost","call":"c1","silent_ms":512.6,"packets_missed":25,'
        '"confirmed_by":"consent"}',
    ),
    (
        ev.FailedOver(
            call="c1",
            from_region="eu-west",
            region="us-east",
            standby=True,
            detect_ms=512.6,
            recovery_ms=27.0,
            elapsed_ms=539.6,
        ),
        '{"event":"failover","call":"c1","from_region":"eu-west","region":"us-east",'
        '"standby":true,"detect_ms":512.6,"recovery_ms":27.0,"elapsed_ms":539.6}',
    ),
    (ev.Notice(message="no audio device"), '{"event":"notice","message":"no audio device"}'),
    (
        ev.RegionProbed(region="eu", ok=True, rtt_ms=1.5, loss=0.0, allocate_ms=3.2),
        '{"event":"region-probe","region":"eu","ok":true,"rtt_ms":1.5,"loss":0.0,'
        '"allocate_ms":3.2}',
    ),
    (
        ev.RegionProbed(region="us", ok=False, error="no answer within 2 s"),
        '{"event":"region-probe","region":"us","ok":false,"error":"no answer within 2 s"}',
    ),
    (
        ev.RegionsRanked(ranking=("eu",), best="eu", auto=True),
        '{"event":"region-ranking","ranking":["eu"],"best":"eu","auto":true}',
    ),
    (
        ev.AudioDeviceChanged(kind="output", device="speaker: pulse", reason="switched", call="c1"),
        '{"event":"audio-device","kind":"output","device":"speaker: pulse","reason":"switched",'
        '"call":"c1"}',
    ),
    (
        ev.AudioDeviceChanged(kind="input", device="silence (microphone lost)", reason="lost"),
        '{"event":"audio-device","kind":"input","device":"silence (microphone lost)",'
        '"reason":"lost"}',
    ),
    (
        ev.ErrorReported(code="bad-sdp", message="remote offer rejected", call="c1"),
        '{"event":"error","code":"bad-sdp","message":"remote offer rejected","call":"c1"}',
    ),
    (
        ev.ErrorReported(code="no-call", message="there is no call"),
        '{"event":"error","code":"no-call","message":"there is no call"}',
    ),
]


@pytest.mark.parametrize(("event", "expected"), PINNED, ids=[e.NAME for e, _ in PINNED])
def test_event_json_is_pinned(event: ev.Event, expected: str) -> None:
    assert json.dumps(event.to_json(), separators=(",", ":")) == expected
    assert event_from_json(json.loads(expected)) == event


def test_every_event_class_is_pinned() -> None:
    pinned = {type(event) for event, _ in PINNED}
    assert [cls.__name__ for cls in event_classes() if cls not in pinned] == []


def test_headless_line_has_event_then_t_then_fields() -> None:
    out = io.StringIO()
    JsonLinesWriter(out, started=0.0)(ev.MuteChanged(on=False))
    record = json.loads(out.getvalue())
    assert list(record) == ["event", "t", "on"]
    assert record["event"] == "mute" and record["on"] is False
    assert isinstance(record["t"], float)


def test_a_state_outside_its_literal_is_refused() -> None:
    assert ev.narrow("stable", ev.SignalingState) == "stable"
    with pytest.raises(ValueError, match="not one of"):
        ev.narrow("sideways", ev.SignalingState)


# What the peer connection passes with ``icerestart`` (softphone/rtc/peer.py), one per shape.
PEER_RESTARTS: list[tuple[str, dict[str, object]]] = [
    ("begun", {"ufrag": "u1", "side": "local", "attempt": 2}),
    ("begun", {"ufrag": "u1", "side": "remote"}),
    (
        "gathered",
        {
            "ufrag": "u1",
            "candidates": 3,
            "elapsed_ms": 41.2,
            "failures": [{"url": "turn:h:3478", "reason": "no answer (timed out)"}],
        },
    ),
    ("checking", {"ufrag": "u1", "attempt": 1}),
    (
        "done",
        {
            "ufrag": "u1",
            "elapsed_ms": 95.0,
            "pair": {"local": json.loads(REMOTE_JSON), "remote": json.loads(REMOTE_JSON)},
            "attempt": 1,
        },
    ),
    ("done", {"ufrag": "u1", "elapsed_ms": 95.0, "pair": None}),
    (
        "failed",
        {
            "ufrag": "u1",
            "reason": "timeout",
            "kept_old_path": True,
            "attempt": 1,
            "will_retry": False,
        },
    ),
    ("failed", {"ufrag": "u1", "reason": "no candidates: x", "kept_old_path": False}),
    ("failed", {"ufrag": "u1", "reason": "rolled back"}),
]


@pytest.mark.parametrize(("phase", "detail"), PEER_RESTARTS)
def test_peer_restart_details_print_as_before(phase: str, detail: dict[str, object]) -> None:
    """Before typed events the line was ``{"event", "call", "phase", **detail}``: still is."""
    from softphone.call import restart_event

    before = {"event": "ice-restart", "call": "c1", "phase": phase, **detail}
    assert list(restart_event("c1", phase, dict(detail)).to_json().items()) == list(before.items())


def test_selected_pair_from_the_peer_keeps_the_server_url() -> None:
    from softphone.call import pair_info
    from softphone.rtc.stats import CandidateInfo, SelectedPair

    pair = SelectedPair(
        local=CandidateInfo("relay", "udp", "127.0.0.3", 50002, "turn:127.0.0.1:3479"),
        remote=CandidateInfo("host", "udp", "127.0.0.1", 40000),
    )
    assert json.dumps(pair_info(pair).to_json(), separators=(",", ":")) == PAIR_JSON


def test_a_relay_over_tls_says_so_in_json_and_on_screen() -> None:
    """(1.2) relay_protocol: how the local relay reaches its TURN server (W3C relayProtocol)."""
    from softphone.call import pair_info
    from softphone.rtc.stats import CandidateInfo, SelectedPair

    url = "turns:127.0.0.2:5349"
    pair = SelectedPair(
        local=CandidateInfo("relay", "udp", "127.0.0.2", 51002, url, relay_protocol="tls"),
        remote=CandidateInfo("relay", "udp", "127.0.0.2", 51004),
    )
    info = pair_info(pair)
    assert info.to_json()["local"] == {
        "type": "relay", "protocol": "udp", "address": "127.0.0.2", "port": 51002,
        "url": url, "relay_protocol": "tls",
    }  # fmt: skip
    assert "relay_protocol" not in info.to_json()["remote"]
    assert info.local.describe() == "relay udp 127.0.0.2:51002 via tls"
