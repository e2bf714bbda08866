"""The E-model against G.107's own figures, and every edge of the quality warnings."""

from __future__ import annotations

from pathlib import Path

import pytest

from softphone import emodel
from softphone.config import ConfigError, load_settings
from softphone.quality import QualityMonitor, QualitySample, QualityThresholds

# --- the E-model ------------------------------------------------------------------


def test_mos_of_known_ratings() -> None:
    """G.107 Annex B: R 93.2 (the default connection) is MOS 4.41; R 50 is 2.58; the ends."""
    assert emodel.mos_from_r(93.2) == pytest.approx(4.41, abs=0.005)
    assert emodel.mos_from_r(80) == pytest.approx(4.02, abs=0.005)
    assert emodel.mos_from_r(70) == pytest.approx(3.60, abs=0.005)
    assert emodel.mos_from_r(50) == pytest.approx(2.58, abs=0.005)
    assert emodel.mos_from_r(0) == 1.0 and emodel.mos_from_r(-5) == 1.0
    assert emodel.mos_from_r(100) == 4.5 and emodel.mos_from_r(120) == 4.5


def test_delay_impairment_of_known_delays() -> None:
    """Idd: nothing up to 100 ms, then G.107's curve (3.0 at 200 ms, 24.1 at 400 ms)."""
    assert emodel.delay_impairment(50) == 0.0
    assert emodel.delay_impairment(100) == 0.0
    assert emodel.delay_impairment(200) == pytest.approx(3.04, abs=0.01)
    assert emodel.delay_impairment(400) == pytest.approx(24.08, abs=0.01)
    values = [emodel.delay_impairment(ms) for ms in range(100, 1000, 50)]
    assert values == sorted(values)


def test_loss_impairment_uses_the_opus_values() -> None:
    """Ie,eff = Ie + (95 - Ie) Ppl / (Ppl + Bpl) with Ie 0 and Bpl 16 for Opus."""
    assert emodel.loss_impairment(0) == 0.0
    assert emodel.loss_impairment(5) == pytest.approx(95 * 5 / 21)
    assert emodel.loss_impairment(16) == pytest.approx(47.5)  # Ppl = Bpl: half of 95
    # G.711 with concealment (G.113: Ie 0, Bpl 25.1) at 2 % loses 7.0 R points
    assert emodel.loss_impairment(2, ie=0, bpl=25.1) == pytest.approx(7.01, abs=0.01)


def test_mos_of_a_clean_lossy_and_slow_call() -> None:
    assert emodel.mos(rtt_ms=1, jitter_ms=0.5, loss_percent=0) == pytest.approx(4.41, abs=0.01)
    assert emodel.mos(rtt_ms=1, jitter_ms=0.5, loss_percent=5) == pytest.approx(3.62, abs=0.02)
    assert emodel.mos(rtt_ms=1, jitter_ms=0.5, loss_percent=20) < 2.5
    assert emodel.mos(rtt_ms=800, jitter_ms=0, loss_percent=0) == pytest.approx(3.48, abs=0.01)
    assert emodel.one_way_delay_ms(100, 10) == 50 + 20 + 20


# --- the warnings -----------------------------------------------------------------


def samples(
    rtts: list[float | None] | None = None,
    *,
    jitter: list[float] | None = None,
    loss: list[float] | None = None,
    levels: list[float | None] | None = None,
    muted: list[bool] | None = None,
    per_second: int = 50,
) -> list[QualitySample]:
    """One sample a second; ``loss`` is the percentage lost in each second."""
    n = max(len(x) for x in (rtts, jitter, loss, levels, muted) if x is not None)
    out, received, lost = [], 0, 0
    for i in range(n):
        if loss is not None and i > 0:
            gone = round(per_second * loss[i] / 100)
            received += per_second - gone
            lost += gone
        elif i > 0:
            received += per_second
        out.append(
            QualitySample(
                at=float(i),
                rtt_ms=(rtts[i] if rtts is not None else 10.0),
                jitter_ms=(jitter[i] if jitter is not None else 1.0),
                packets_received=received,
                packets_lost=lost,
                mic_level=(levels[i] if levels is not None else None),
                muted=(muted[i] if muted is not None else False),
            )
        )
    return out


def run(monitor: QualityMonitor, feed: list[QualitySample]) -> list[tuple[int, str, bool, float]]:
    return [(i, c.name, c.raised, c.value) for i, s in enumerate(feed) for c in monitor.add(s)]


def test_high_rtt_is_raised_at_3_of_5_and_cleared_at_1_of_5() -> None:
    rtts: list[float | None] = [100, 500, 100, 500, 100, 500, 500, 100, 100, 100, 100]
    changes = [c for c in run(QualityMonitor(), samples(rtts)) if c[1] == "high-rtt"]
    # the third high sample is at index 5 (of 1,3,5 in the window 1..5)
    assert changes == [(5, "high-rtt", True, 500.0), (10, "high-rtt", False, 100.0)]


def test_rtt_at_its_threshold_or_unknown_raises_nothing() -> None:
    assert run(QualityMonitor(), samples([400.0] * 10)) == []
    assert run(QualityMonitor(), samples([None] * 10)) == []


def test_high_jitter() -> None:
    changes = run(QualityMonitor(), samples(jitter=[40.0] * 3 + [1.0] * 5))
    assert [c[:3] for c in changes] == [(2, "high-jitter", True), (6, "high-jitter", False)]


def test_high_packet_loss_over_7_intervals_with_hysteresis() -> None:
    """6 % loss from second 8: raised when 4 of 7 intervals are lossy (3.4 %), cleared at 1 %."""
    loss = [0.0] * 8 + [6.0] * 10 + [0.0] * 10
    changes = [c for c in run(QualityMonitor(), samples(loss=loss)) if c[1] == "high-packet-loss"]
    assert [c[:3] for c in changes] == [
        (11, "high-packet-loss", True),
        (23, "high-packet-loss", False),
    ]
    assert changes[0][3] > 3.0 and changes[1][3] <= 1.0


def test_loss_is_not_judged_on_fewer_than_7_intervals() -> None:
    changes = run(QualityMonitor(), samples(loss=[0.0] + [50.0] * 6))
    assert [c[1] for c in changes] == ["low-mos"]  # the MOS says it; the loss window is not full


def test_low_mos_follows_loss_and_recovers() -> None:
    monitor = QualityMonitor()
    loss = [0.0] * 3 + [20.0] * 6 + [0.0] * 10
    changes = [c for c in run(monitor, samples(loss=loss)) if c[1] == "low-mos"]
    assert [c[2] for c in changes] == [True, False]
    assert changes[0][3] < 3.5 and changes[1][3] > 3.5
    assert monitor.mos == pytest.approx(4.41, abs=0.01)


def test_constant_level_for_10_s_while_unmuted() -> None:
    flat: list[float | None] = [0.0] * 12 + [0.2, 0.01]
    changes = run(QualityMonitor(), samples(levels=flat))
    assert changes == [
        (10, "constant-audio-input-level", True, 0.0),
        (12, "constant-audio-input-level", False, 0.2),
    ]


def test_a_moving_level_or_a_muted_microphone_raises_nothing() -> None:
    moving: list[float | None] = [0.01 * (i % 3) for i in range(20)]
    assert run(QualityMonitor(), samples(levels=moving)) == []
    assert run(QualityMonitor(), samples(levels=[0.0] * 20, muted=[True] * 20)) == []


def test_muting_clears_the_level_warning() -> None:
    changes = run(QualityMonitor(), samples(levels=[0.0] * 14, muted=[False] * 12 + [True] * 2))
    assert [c[:3] for c in changes] == [
        (10, "constant-audio-input-level", True),
        (12, "constant-audio-input-level", False),
    ]


def test_thresholds_from_a_table() -> None:
    t = QualityThresholds.from_table(
        {"rtt_ms": 100, "sample_interval": 0.2, "samples": 3, "raise_count": 2, "clear_count": 0}
    )
    assert (t.rtt_ms, t.sample_interval, t.samples, t.raise_count) == (100, 0.2, 3, 2)
    assert QualityThresholds.from_table({}) == QualityThresholds()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"rtt": 1}, "unknown key 'rtt'"),
        ({"rtt_ms": "high"}, "rtt_ms: expected a number, got str"),
        ({"rtt_ms": True}, "rtt_ms: expected a number"),
        ({"samples": 2.5}, "samples: expected a whole number"),
        ({"jitter_ms": -1}, "jitter_ms: must be a finite number >= 0"),
        ({"raise_count": 6}, "raise_count: must be at most samples"),
        ({"clear_count": 3}, "clear_count: must be below raise_count"),
        ({"sample_interval": 0.001}, "sample_interval: must be at least"),
        ({"packet_loss_clear_percent": 5}, "packet_loss_clear_percent: must be at most"),
        ([1], "expected a table"),
    ],
)
def test_bad_thresholds_are_named(table: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        QualityThresholds.from_table(table)


def test_the_quality_table_of_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[quality]\nrtt_ms = 250\nsample_interval = 0.5\n")
    settings = load_settings(path)
    assert settings.quality.rtt_ms == 250 and settings.quality.sample_interval == 0.5
    assert settings.quality.packet_loss_percent == 3.0  # the others keep Twilio's defaults
    path.write_text('[quality]\nrtt_ms = "slow"\n')
    with pytest.raises(ConfigError, match=r"config.toml: quality: rtt_ms: expected a number"):
        load_settings(path)
    path.write_text("quality = 3\n")
    with pytest.raises(ConfigError, match="quality: expected a table"):
        load_settings(path)


# --- the session's pieces: the source's level and the watch's events --------------------


async def test_the_level_is_the_peak_of_the_last_frame_muted_or_not() -> None:
    from softphone.media import MutableSource
    from softphone.media.sources import SilenceSource, ToneSource

    tone = MutableSource(ToneSource(440, amplitude=0.3))
    assert tone.level is None  # nothing sent yet
    await tone.recv()
    assert tone.level == pytest.approx(0.3, abs=0.002)
    tone.muted = True
    await tone.recv()
    assert tone.level == pytest.approx(0.3, abs=0.002)  # what the microphone hears
    silent = MutableSource(SilenceSource())
    await silent.recv()
    assert silent.level == 0.0
    tone.stop()
    silent.stop()


async def test_the_watch_emits_typed_warnings_and_keeps_the_mos() -> None:
    import asyncio

    from softphone import events as ev
    from softphone.media import MutableSource
    from softphone.media.sources import SilenceSource
    from softphone.quality_watch import QualityWatch
    from softphone.rtc.stats import CallStats

    count = 0

    async def stats() -> CallStats:
        nonlocal count
        count += 1
        return CallStats(900.0, 1.0, 50 * count, 50 * count, 0, 8000, 8000, None)

    source = MutableSource(SilenceSource())
    got: list[ev.Event] = []
    watch = QualityWatch("c1", QualityThresholds(sample_interval=0.05), stats, source, got.append)
    first = CallStats(900.0, 1.0, 0, 0, 0, 0, 0, None)
    assert watch.mos_for(first) == pytest.approx(emodel.mos(900, 1, 0))  # before any sample
    watch.start()
    try:
        for _ in range(200):
            if got:
                break
            await asyncio.sleep(0.01)
    finally:
        watch.stop()
        source.stop()
    assert got and isinstance(got[0], ev.QualityWarning), got
    assert (got[0].call, got[0].name, got[0].value) == ("c1", "high-rtt", 900.0)
    assert watch.monitor.mos is not None and watch.mos_for(first) == watch.monitor.mos
