"""A live MOS from the ITU-T G.107 E-model (narrowband scale), for Opus calls.

Why a model at all: a user on a bad network wants one figure that says how
the call sounds, and the calling SDKs (Twilio, Vonage) show a MOS computed
this way from the same three inputs the softphone has: round-trip time,
jitter and packet loss. Pure arithmetic, no aiortc: unit-tested against the
values G.107 itself gives.

The rating is R = Ro - Is - Id - Ie,eff + A (G.107 section 7) with

* Ro - Is = 93.2 at G.107's default parameters (no echo, no room noise,
  standard loudness ratings) and A = 0 (a wired call: no advantage factor);
* Id = Idd, the delay impairment of G.107 (7.3, the 2011 and later form):
  0 up to mT = 100 ms, then 25 {(1 + X^6)^(1/6) - 3 (1 + (X/3)^6)^(1/6) + 2}
  with X = log2(Ta / mT). The talker-echo and listener-echo terms (Idte,
  Idle) are left at their default-parameter values, already in the 93.2:
  the softphone has no acoustic echo path of its own (TELR 65 dB);
* Ta, the absolute one-way delay, is RTT / 2 (the network, one way) plus
  the jitter buffer's delay, estimated as twice the interarrival jitter
  (the usual sizing of an adaptive buffer), plus one 20 ms Opus frame of
  packetisation;
* Ie,eff = Ie + (95 - Ie) Ppl / (Ppl / BurstR + Bpl) (G.107 7.4) with
  random loss (BurstR = 1) in percent.

Opus impairment values (Ie, Bpl). G.113 Appendix I, which lists Ie and Bpl
for the ITU codecs, has no entry for Opus, so the values are these:

* OPUS_IE = 0: at the bitrate aiortc sends (Opus at 48 kHz, tens of kbit/s)
  Opus is transparent on the narrowband scale: at least as good as G.711,
  whose Ie is 0 by definition (G.113 Table I.1).
* OPUS_BPL = 16: the packet-loss robustness derived for Opus from listening
  tests by Mohannad Alahmadi (his Opus E-model tables, ``Opus_emodel.js``,
  MIT licence, 2021: empirically derived Ie and Bpl per Opus bandwidth,
  mode and bitrate): Bpl for random loss of 15.3 and 16.0 for narrowband
  CBR at 10 and 11 kbit/s, the modes whose Ie has already fallen to 6.2
  and 2.0 (his wideband and super-wideband values are on the wideband R
  scale, which this narrowband model does not use). It sits between G.711
  without concealment (Bpl 4.3) and with it (25.1, both G.113 Appendix I),
  which fits aiortc: Opus's own concealment runs in a browser peer, not in
  aiortc's receiver. A 5 % random loss then costs 22.6 R points (MOS 4.41
  -> 3.62).

MOS from R is G.107 Annex B: 1 + 0.035 R + 7e-6 R (R - 60)(100 - R),
clamped to 1 below R = 0 and 4.5 above R = 100.
"""

from __future__ import annotations

import math

#: Ro - Is with every other G.107 parameter at its default (G.107 Table 3).
R_DEFAULT = 93.2
#: Delay (ms) below which one-way delay costs nothing (G.107 mT default).
DELAY_KNEE_MS = 100.0
#: One Opus frame: the packetisation delay every packet carries.
PACKETISATION_MS = 20.0
OPUS_IE = 0.0
OPUS_BPL = 16.0


def one_way_delay_ms(rtt_ms: float, jitter_ms: float = 0.0) -> float:
    """Ta: half the round trip, the jitter buffer (2 x jitter) and one frame."""
    return max(0.0, rtt_ms) / 2 + 2 * max(0.0, jitter_ms) + PACKETISATION_MS


def delay_impairment(ta_ms: float) -> float:
    """Idd of G.107 7.3 for an absolute one-way delay ``ta_ms``."""
    if ta_ms <= DELAY_KNEE_MS:
        return 0.0
    x = math.log2(ta_ms / DELAY_KNEE_MS)
    return 25.0 * (math.pow(1 + x**6, 1 / 6) - 3 * math.pow(1 + (x / 3) ** 6, 1 / 6) + 2)


def loss_impairment(
    loss_percent: float, ie: float = OPUS_IE, bpl: float = OPUS_BPL, burst_r: float = 1.0
) -> float:
    """Ie,eff of G.107 7.4: the codec's impairment grown by the packet loss."""
    ppl = min(100.0, max(0.0, loss_percent))
    return ie + (95 - ie) * ppl / (ppl / burst_r + bpl)


def r_factor(rtt_ms: float, jitter_ms: float, loss_percent: float) -> float:
    """The transmission rating R of a call with these network figures."""
    ta = one_way_delay_ms(rtt_ms, jitter_ms)
    return R_DEFAULT - delay_impairment(ta) - loss_impairment(loss_percent)


def mos_from_r(r: float) -> float:
    """G.107 Annex B: the estimated mean opinion score (1 to 4.5) for a rating R."""
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r)


def mos(rtt_ms: float, jitter_ms: float, loss_percent: float) -> float:
    """The call's MOS, rounded to 0.01 (the precision the events carry)."""
    return round(mos_from_r(r_factor(rtt_ms, jitter_ms, loss_percent)), 2)
