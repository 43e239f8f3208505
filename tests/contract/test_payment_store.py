"""PaymentStore contract: a payment kept once, found by its id or charge id, refunded once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.payments import Payment, PaymentState, PaymentStore

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def payment(credits: int = 100_00) -> Payment:
    return Payment(
        id="telegram:stxT-abc_1",
        platform="telegram",
        charge_id="stxT-abc_1",
        user="telegram:7",
        credits=credits,
        amount=50,
        currency="XTR",
        at=NOW,
    )


async def test_kept_once_found_by_either_id(payment_store: PaymentStore) -> None:
    assert await payment_store.find("stxT-abc_1") is None
    await payment_store.record(payment())
    await payment_store.record(payment(credits=1))  # reported again: nothing changes
    assert await payment_store.find("stxT-abc_1") == payment()
    assert await payment_store.find("telegram:stxT-abc_1") == payment()
    assert await payment_store.find("stxT-abc") is None


async def test_refunded_once_and_still_found(payment_store: PaymentStore) -> None:
    await payment_store.record(payment())
    assert await payment_store.mark_refunded("telegram:stxT-abc_1", NOW + timedelta(days=1))
    assert not await payment_store.mark_refunded("telegram:stxT-abc_1", NOW + timedelta(days=2))
    found = await payment_store.find("stxT-abc_1")
    assert found is not None and found.state is PaymentState.REFUNDED
    assert found.model_copy(update={"state": PaymentState.CREDITED}) == payment()
