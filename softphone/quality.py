"""Call-quality warnings from the session's own samples, with Twilio's default thresholds.

Why here and pure: the session samples its call once a second (RTT, jitter,
packet counters, the microphone's level) and this module decides, from those
numbers alone, when a warning is raised and when it is cleared. No aiortc,
no clock of its own: the unit tests feed it samples and check every edge.

The warnings and their defaults are Twilio Voice's (its ``warning`` events):

* ``high-rtt``: RTT over 400 ms in 3 of the last 5 samples;
* ``high-jitter``: jitter over 30 ms in 3 of the last 5 samples;
* ``high-packet-loss``: over 3 % of the packets expected in the last 7
  sample intervals were lost;
* ``low-mos``: the E-model MOS (:mod:`softphone.emodel`) under 3.5 in 3 of
  the last 5 samples;
* ``constant-audio-input-level``: the microphone's level has not moved for
  10 s while unmuted (a dead or unplugged microphone sends exact silence or
  one stuck value; a live one always has some noise).

Each is raised once and cleared once, with hysteresis so that a figure
hovering at its threshold does not flap: a 3-of-5 warning clears when at
most 1 of the last 5 samples is beyond the threshold, the loss warning when
the loss over its window is down to 1 %, the level warning when the level
has moved by more than the tolerance within the last 10 s. Every figure is
configurable (``[quality]`` in the configuration file, docs/protocol.md
section 3).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, fields
from statistics import median
from typing import Any

from softphone import emodel
from softphone.events import QualityWarningName as WarningName


@dataclass(frozen=True)
class QualityThresholds:
    """The ``[quality]`` table: when each warning is raised and cleared, how often to sample."""

    sample_interval: float = 1.0
    rtt_ms: float = 400.0
    jitter_ms: float = 30.0
    mos: float = 3.5
    samples: int = 5
    raise_count: int = 3
    clear_count: int = 1
    packet_loss_percent: float = 3.0
    packet_loss_clear_percent: float = 1.0
    loss_samples: int = 7
    constant_level_seconds: float = 10.0
    constant_level_tolerance: float = 0.0005

    @classmethod
    def from_table(cls, table: Any) -> QualityThresholds:
        """The thresholds of a ``[quality]`` table; ValueError naming the key otherwise."""
        if not isinstance(table, dict):
            raise ValueError("expected a table of thresholds")
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key not in known:
                raise ValueError(f"unknown key {key!r}; known keys: {', '.join(known)}")
            values[key] = _checked(key, value, known[key].type == "int")
        result = cls(**values)
        if result.raise_count > result.samples:
            raise ValueError("raise_count: must be at most samples")
        if result.clear_count >= result.raise_count:
            raise ValueError("clear_count: must be below raise_count (the hysteresis)")
        if result.packet_loss_clear_percent > result.packet_loss_percent:
            raise ValueError("packet_loss_clear_percent: must be at most packet_loss_percent")
        return result


def _checked(key: str, value: Any, whole: bool) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key}: expected a number, got {type(value).__name__}")
    if whole and not isinstance(value, int):
        raise ValueError(f"{key}: expected a whole number")
    if whole and value < (0 if key == "clear_count" else 1):
        raise ValueError(f"{key}: must be at least {0 if key == 'clear_count' else 1}")
    if not whole and (not math.isfinite(value) or value < 0):
        raise ValueError(f"{key}: must be a finite number >= 0")
    if key == "sample_interval" and value < 0.05:
        raise ValueError("sample_interval: must be at least 0.05 s")
    return value


@dataclass(frozen=True)
class QualitySample:
    """One look at the call: counters are cumulative; ``mic_level`` is 0..1 full scale."""

    at: float
    rtt_ms: float | None
    jitter_ms: float | None
    packets_received: int
    packets_lost: int
    mic_level: float | None = None
    muted: bool = False


@dataclass(frozen=True)
class QualityChange:
    """A warning raised (``raised``) or cleared, with the figure that decided it."""

    name: WarningName
    raised: bool
    value: float
    threshold: float


class _CountWarning:
    """Raised when ``raise_count`` of the last ``samples`` values are beyond the threshold."""

    def __init__(self, name: WarningName, threshold: float, t: QualityThresholds, above: bool):
        self.name = name
        self.threshold = threshold
        self.above = above
        self.raise_count = t.raise_count
        self.clear_count = t.clear_count
        self.values: deque[float] = deque(maxlen=t.samples)
        self.active = False

    def add(self, value: float) -> QualityChange | None:
        self.values.append(value)
        beyond = sum(
            1 for v in self.values if (v > self.threshold if self.above else v < self.threshold)
        )
        figure = round(median(self.values), 2)
        if not self.active and beyond >= self.raise_count:
            self.active = True
            return QualityChange(self.name, True, figure, self.threshold)
        if self.active and beyond <= self.clear_count:
            self.active = False
            return QualityChange(self.name, False, figure, self.threshold)
        return None


class QualityMonitor:
    """Feed it one :class:`QualitySample` a ``sample_interval``; it says what changed."""

    def __init__(self, thresholds: QualityThresholds | None = None) -> None:
        t = thresholds or QualityThresholds()
        self.thresholds = t
        self._rtt = _CountWarning("high-rtt", t.rtt_ms, t, above=True)
        self._jitter = _CountWarning("high-jitter", t.jitter_ms, t, above=True)
        self._mos = _CountWarning("low-mos", t.mos, t, above=False)
        self._loss: deque[tuple[int, int]] = deque(maxlen=t.loss_samples)
        self._loss_active = False
        self._levels: deque[tuple[float, float]] = deque()
        self._level_active = False
        self._last: QualitySample | None = None
        #: The latest MOS (None until RTT is known), for the ``stats`` events.
        self.mos: float | None = None

    @property
    def active(self) -> tuple[WarningName, ...]:
        """The warnings raised and not yet cleared."""
        names: list[WarningName] = [
            w.name for w in (self._rtt, self._jitter, self._mos) if w.active
        ]
        if self._loss_active:
            names.append("high-packet-loss")
        if self._level_active:
            names.append("constant-audio-input-level")
        return tuple(names)

    def add(self, sample: QualitySample) -> list[QualityChange]:
        changes: list[QualityChange | None] = []
        last, self._last = self._last, sample
        if last is not None:
            got = max(0, sample.packets_received - last.packets_received)
            lost = max(0, sample.packets_lost - last.packets_lost)
            if got + lost > 0:
                self._loss.append((got, lost))
            changes.append(self._check_loss())
        if sample.rtt_ms is not None:
            changes.append(self._rtt.add(sample.rtt_ms))
        if sample.jitter_ms is not None:
            changes.append(self._jitter.add(sample.jitter_ms))
        if sample.rtt_ms is not None and last is not None:
            loss = self._loss_percent(self.thresholds.samples)
            self.mos = emodel.mos(sample.rtt_ms, sample.jitter_ms or 0.0, loss)
            changes.append(self._mos.add(self.mos))
        changes.append(self._check_level(sample))
        return [change for change in changes if change is not None]

    def _loss_percent(self, intervals: int | None = None) -> float:
        window = list(self._loss)[-intervals:] if intervals else list(self._loss)
        got = sum(g for g, _ in window)
        lost = sum(lost for _, lost in window)
        return 100.0 * lost / (got + lost) if got + lost else 0.0

    def _check_loss(self) -> QualityChange | None:
        t = self.thresholds
        if len(self._loss) < t.loss_samples and not self._loss_active:
            return None
        percent = round(self._loss_percent(), 2)
        if not self._loss_active and percent > t.packet_loss_percent:
            self._loss_active = True
            return QualityChange("high-packet-loss", True, percent, t.packet_loss_percent)
        if self._loss_active and percent <= t.packet_loss_clear_percent:
            self._loss_active = False
            return QualityChange("high-packet-loss", False, percent, t.packet_loss_percent)
        return None

    def _check_level(self, sample: QualitySample) -> QualityChange | None:
        t = self.thresholds
        name: WarningName = "constant-audio-input-level"
        level = sample.mic_level
        if level is None or sample.muted:
            self._levels.clear()
            if self._level_active:
                self._level_active = False
                return QualityChange(name, False, round(level or 0.0, 4), t.constant_level_seconds)
            return None
        self._levels.append((sample.at, level))
        while self._levels and sample.at - self._levels[0][0] > t.constant_level_seconds:
            self._levels.popleft()
        spread = max(v for _, v in self._levels) - min(v for _, v in self._levels)
        # A little slack on the span: samples come about every interval, never exactly.
        spanned = sample.at - self._levels[0][0] >= t.constant_level_seconds - t.sample_interval / 2
        if not self._level_active and spanned and spread <= t.constant_level_tolerance:
            self._level_active = True
            return QualityChange(name, True, round(level, 4), t.constant_level_seconds)
        if self._level_active and spread > t.constant_level_tolerance:
            self._level_active = False
            return QualityChange(name, False, round(level, 4), t.constant_level_seconds)
        return None
