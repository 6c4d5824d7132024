"""The login throttle's arithmetic, on a clock the test moves: growing delays per
officer, per address and per both; waiting is enough; known addresses; memory bound."""

from __future__ import annotations

import pytest

from server.config import DEFAULT_LOGIN_LIMITS, LoginLimit, LoginLimits
from server.policy import throttle as throttle_module
from server.policy.throttle import LoginThrottle
from sync.errors import TooManyRequests


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _throttle(limits: LoginLimits = DEFAULT_LOGIN_LIMITS) -> tuple[LoginThrottle, Clock]:
    clock = Clock()
    return LoginThrottle(limits, clock=clock), clock


def _fail(throttle: LoginThrottle, clock: Clock, officer: str, client: str, times: int) -> None:
    """``times`` failed logins, each made as soon as the throttle allowed it."""
    for _ in range(times):
        clock.now += throttle.wait_s(officer, client)
        throttle.check(officer, client)
        throttle.failed(officer, client)


def test_delays_grow_after_the_free_failures_and_waiting_them_out_is_enough() -> None:
    throttle, clock = _throttle()
    free = DEFAULT_LOGIN_LIMITS.officer_at_address.free
    _fail(throttle, clock, "so-alpha", "10.0.0.5", free)
    waits = []
    for _ in range(6):
        waits.append(throttle.wait_s("so-alpha", "10.0.0.5"))
        with pytest.raises(TooManyRequests) as refused:
            throttle.check("so-alpha", "10.0.0.5")
        assert refused.value.retry_after >= waits[-1]
        assert f"try again in {refused.value.retry_after} seconds" in refused.value.reason
        _fail(throttle, clock, "so-alpha", "10.0.0.5", 1)
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]  # doubling, never a flat lockout


def test_delays_stop_at_their_cap_and_a_quiet_key_is_forgotten() -> None:
    throttle, clock = _throttle()
    _fail(throttle, clock, "so-alpha", "10.0.0.5", 40)
    assert throttle.wait_s("so-alpha", "10.0.0.5") == DEFAULT_LOGIN_LIMITS.officer_at_address.max_s
    clock.now += DEFAULT_LOGIN_LIMITS.officer_at_address.forget_s + 1
    assert throttle.wait_s("so-alpha", "10.0.0.5") == 0
    _fail(throttle, clock, "so-alpha", "10.0.0.5", 1)
    assert throttle.wait_s("so-alpha", "10.0.0.5") == 0  # counting starts afresh


def test_a_guesser_at_one_address_does_not_slow_his_neighbours_or_the_officer_elsewhere() -> None:
    throttle, clock = _throttle()
    _fail(throttle, clock, "so-alpha", "10.0.0.5", 8)  # a station PC behind the NAT
    assert throttle.wait_s("so-alpha", "10.0.0.5") > 0
    assert throttle.wait_s("bo-one", "10.0.0.5") == 0  # the rest of the station logs in
    assert throttle.wait_s("so-alpha", "10.9.9.9") == 0  # and so does the officer, elsewhere


def test_one_officer_guessed_at_from_many_addresses_is_delayed_at_most_the_officer_cap() -> None:
    throttle, clock = _throttle()
    for n in range(200):
        _fail(throttle, clock, "so-alpha", f"198.51.100.{n}", 1)
    wait = throttle.wait_s("so-alpha", "10.0.0.5")
    assert 0 < wait <= DEFAULT_LOGIN_LIMITS.officer.max_s


def test_the_officers_known_address_skips_the_officer_wide_delay() -> None:
    throttle, clock = _throttle()
    throttle.succeeded("so-alpha", "10.0.0.5")  # his desk, yesterday
    for n in range(50):
        _fail(throttle, clock, "so-alpha", f"198.51.100.{n}", 1)
    assert throttle.wait_s("so-alpha", "203.0.113.1") > 0
    assert throttle.wait_s("so-alpha", "10.0.0.5") == 0
    clock.now += DEFAULT_LOGIN_LIMITS.known_address_s + 1
    for n in range(50, 60):
        _fail(throttle, clock, "so-alpha", f"198.51.100.{n}", 1)
    assert throttle.wait_s("so-alpha", "10.0.0.5") > 0  # known no longer


def test_spraying_many_officers_from_one_address_is_slowed_after_the_address_allowance() -> None:
    throttle, clock = _throttle()
    allowance = DEFAULT_LOGIN_LIMITS.address.free
    for n in range(allowance):
        _fail(throttle, clock, f"officer-{n}", "10.0.0.5", 1)
    assert throttle.wait_s("bo-one", "10.0.0.5") > 0
    assert throttle.wait_s("bo-one", "10.0.0.6") == 0


def test_success_clears_the_officers_counts_but_not_the_addresss() -> None:
    limits = LoginLimits(address=LoginLimit(free=4, base_s=1.0, max_s=60.0, forget_s=900.0))
    throttle, clock = _throttle(limits)
    _fail(throttle, clock, "so-alpha", "10.0.0.5", 3)
    throttle.succeeded("so-alpha", "10.0.0.5")
    _fail(throttle, clock, "bo-two", "10.0.0.5", 1)
    assert throttle.wait_s("so-alpha", "10.0.0.5") == 1.0  # only the address's 4 failures
    assert throttle.wait_s("so-alpha", "10.0.0.6") == 0


def test_made_up_ids_cannot_grow_the_throttle_without_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(throttle_module, "_MAX_KEYS", 100)
    throttle, clock = _throttle()
    for n in range(1000):
        clock.now += 0.001
        throttle.failed(f"nobody-{n}", f"192.0.2.{n % 250}")
    assert len(throttle._failures) <= 100 + 3
