"""Per-key limits: requests and tokens per minute, with a Retry-After that means something."""

from serving.gateway.auth import Client
from serving.gateway.limits import ClientLimiter, Limiters, TokenBucket


def client(rpm=None, tpm=None, name="app") -> Client:
    return Client(name, "team", False, rpm, tpm, b"\0" * 32)


def test_requests_per_minute_refuse_the_request_over_the_limit_with_the_wait_until_one_fits():
    limiter = ClientLimiter(client(rpm=3), now=0.0)
    for _ in range(3):
        assert limiter.admit(100, now=0.0)[0] is None
    exceeded, retry_after, _ = limiter.admit(100, now=0.0)
    assert (exceeded, retry_after) == ("rpm", 20)  # one request refills every 60/3 s
    assert limiter.admit(100, now=20.0)[0] is None


def test_tokens_per_minute_reserve_an_estimate_and_settle_on_the_real_usage():
    limiter = ClientLimiter(client(tpm=600), now=0.0)
    exceeded, _, reserved = limiter.admit(400, now=0.0)  # ~100 tokens estimated from 400 bytes
    assert exceeded is None and reserved == 100
    limiter.settle(reserved, used_tokens=700)  # the answer was long: the bucket is now in debt
    exceeded, retry_after, _ = limiter.admit(40, now=0.0)
    assert exceeded == "tpm"
    assert retry_after == 11  # 100 tokens of debt + 10 for this request, at 10 tokens/s


def test_a_request_refused_for_tokens_does_not_use_up_a_request():
    limiter = ClientLimiter(client(rpm=2, tpm=60), now=0.0)
    assert limiter.admit(240, now=0.0)[0] is None  # 60 tokens: the token bucket is empty now
    assert limiter.admit(40, now=0.0)[0] == "tpm"
    assert limiter.admit(0, now=0.0)[0] is None  # the second request of the minute is still there


def test_a_request_larger_than_the_whole_bucket_passes_when_the_bucket_is_full():
    bucket = TokenBucket(60, now=0.0)
    assert bucket.wait_for(10_000, now=0.0) == 0


def test_limiter_state_survives_a_reload_of_the_same_key():
    limiters = Limiters()
    first = limiters.for_client(client(rpm=5), now=0.0)
    assert limiters.for_client(client(rpm=5), now=1.0) is first
    assert limiters.for_client(client(rpm=10), now=1.0) is not first  # a changed limit starts afresh


def test_keys_without_limits_are_never_refused():
    limiter = ClientLimiter(client(), now=0.0)
    assert all(limiter.admit(10**6, now=0.0)[0] is None for _ in range(1000))


def test_keys_without_limits_get_no_limiter_at_all():
    assert Limiters().for_client(client(), now=0.0) is None


def test_what_other_pods_consumed_is_debited_and_this_pods_own_use_is_pending():
    limiter = ClientLimiter(client(rpm=6), now=0.0)
    assert limiter.admit(10, now=0.0)[0] is None
    assert limiter.rpm.pending == 1
    limiter.rpm.debit(5, now=0.0)  # the other pods took five
    exceeded, retry_after, _ = limiter.admit(10, now=0.0)
    assert (exceeded, retry_after) == ("rpm", 10)
