"""The SIP test stack itself: Kamailio (docs/kamailio.cfg), rtpengine and baresip start.

If this fails, every SIP end-to-end test would fail for a reason unrelated to
the softphone; here the reason is named (the daemon's log is in the message).
"""

from __future__ import annotations

import pytest

from tests.sip import SipStack

pytestmark = pytest.mark.e2e


def test_baresip_registers_at_kamailio_over_udp(sip_stack: SipStack) -> None:
    bob = sip_stack.baresip("bob")
    assert "200 OK" in bob.log_text()
    assert "sip:bob@127.0.0.1" in bob.command("reginfo")
