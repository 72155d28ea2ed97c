"""The start-up-cheap digests are the standard library's, bit for bit."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from cpq_cli.digest import hmac_sha256_hex, same, sha256_hex


@given(st.binary(max_size=300))
def test_sha256_is_hashlib_s(data: bytes) -> None:
    assert sha256_hex(data) == hashlib.sha256(data).hexdigest()


@given(st.binary(max_size=200), st.binary(max_size=300))
def test_hmac_is_the_standard_library_s(key: bytes, message: bytes) -> None:
    assert hmac_sha256_hex(key, message) == hmac.new(key, message, hashlib.sha256).hexdigest()


def test_a_batch_s_sha256_is_the_same_digest() -> None:
    import subprocess
    import sys

    # in a new process: expect_many() changes the process's hash function for good
    code = ("import hashlib, os; from cpq_cli import digest; data = [os.urandom(n) for n in range(0, 9000, 97)]; "
            "before = [digest.sha256_hex(d) for d in data]; digest.expect_many(); "
            "assert digest._sha256 is hashlib.sha256; "
            "assert before == [digest.sha256_hex(d) for d in data] == [hashlib.sha256(d).hexdigest() for d in data]; "
            "assert digest.hmac_sha256_hex(b'k', b'm') == __import__('hmac').new(b'k', b'm', 'sha256').hexdigest()")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_rfc_4231_case_2() -> None:
    assert hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")


@given(st.text(max_size=50), st.text(max_size=50))
def test_same_is_equality(a: str, b: str) -> None:
    assert same(a, b) is (a == b)
    assert same(a, a)


def test_rfc_4231_case_6_a_key_longer_than_a_block() -> None:
    assert hmac_sha256_hex(b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First") == (
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")


def test_same_is_a_constant_time_compare() -> None:
    """Links, sessions, CSRF tokens and reply codes are compared with `same`: CPython's
    `_compare_digest` (what `hmac.compare_digest` is), whose time does not depend on where the two differ."""
    import _operator

    from cpq_cli import digest

    assert digest._compare in (_operator._compare_digest, hmac.compare_digest)
    assert not same("a" * 64, "a" * 63) and not same("é", "e")
