"""Where a call fails over to (softphone/failover.py, 1.2): fallback first, dead ones skipped."""

from __future__ import annotations

from softphone.config import Region, Settings
from softphone.failover import failover_order


def settings(fallback: str | None) -> Settings:
    regions = tuple(Region(name, ()) for name in ("eu-west", "us-east", "ap-south", "dead"))
    return Settings(regions=regions, region="eu-west", fallback_region=fallback)


def test_the_fallback_region_comes_first_then_configuration_order() -> None:
    order = failover_order(settings("dead"), "eu-west", set())
    assert order == ["dead", "us-east", "ap-south"]


def test_a_dead_fallback_is_skipped_for_the_next_healthy_one() -> None:
    assert failover_order(settings("dead"), "eu-west", {"dead"}) == ["us-east", "ap-south"]


def test_the_region_in_force_and_the_dead_ones_are_never_candidates() -> None:
    order = failover_order(settings("us-east"), "us-east", {"eu-west"})
    assert order == ["ap-south", "dead"]


def test_no_fallback_region_means_no_failover() -> None:
    assert failover_order(settings(None), "eu-west", set()) == []
