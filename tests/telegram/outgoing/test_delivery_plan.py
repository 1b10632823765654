"""Planning posts from a chat's backlog: an order's pending texts join one post, in order, never mixing orders."""

from __future__ import annotations

from bridge.core.chats import plan_records
from bridge.store import Pending, State, Watch
from bridge.telegram.outgoing.delivery import next_post
from tests.factories import message, order

A = "1898976123321221120"
B = "1898976123321229999"


def watch(order_id: str = A) -> Watch:
    return Watch(order_id, -100, None, True, True, order(id=order_id))


def pending(seq: int, text: str, order_id: str = A, *, attempts: int = 0, **fields: object) -> Pending:
    return Pending(seq, message(text, id=str(seq), **fields), watch(order_id), attempts)


def seqs(batch: list[Pending], *, coalesce: bool = True) -> list[list[int]]:
    """Every post the batch becomes, delivering each planned post before planning the next."""
    posts = []
    while batch:
        post = next_post(batch, coalesce=coalesce)
        posts.append([item.seq for item in post.items])
        batch = [item for item in batch if item not in post.items]
    return posts


def test_an_orders_texts_join_wherever_they_sit_in_the_queue() -> None:
    batch = [pending(1, "a"), pending(2, "x", B), pending(3, "b"), pending(4, "y", B), pending(5, "c")]
    assert seqs(batch) == [[1, 3, 5], [2, 4]]
    assert seqs(batch, coalesce=False) == [[1], [2], [3], [4], [5]]


def test_a_text_tried_before_goes_with_texts_tried_as_often_never_with_new_ones() -> None:
    batch = [pending(1, "a", attempts=2), pending(2, "b", attempts=2), pending(3, "c"), pending(4, "d")]
    assert seqs(batch) == [[1, 2], [3, 4]]  # so a third timeout dead-letters only what timed out thrice


def test_media_and_long_texts_keep_their_place_in_their_order() -> None:
    batch = [
        pending(1, "a"),
        pending(2, "x", B),
        pending(3, "/r.png", msgType=2),
        pending(4, "b"),
        pending(5, "y", B),
        pending(6, "e" * 5000),
        pending(7, "f"),
    ]
    assert seqs(batch) == [[1], [2, 5], [3], [4], [6], [7]]


def test_a_joint_post_stays_under_telegrams_limit() -> None:
    batch = [pending(n, "z" * 1500) for n in range(1, 6)]
    assert seqs(batch) == [[1, 2], [3, 4], [5]]


def test_backfill_forwards_only_the_newest_and_never_order_cards() -> None:
    owned = [(A, message(str(n), id=str(n))) for n in range(5)]
    owned.append((A, message("{}", id="9", msgType=11, contentType="SYS_ORDER_CARD")))
    states = [state for _, _, state in plan_records(owned, 3)]
    assert states == [State.SKIPPED] * 3 + [State.PENDING] * 2 + [State.SKIPPED]
    assert all(state is State.PENDING for _, _, state in plan_records(owned[:5], None))
    assert [state for _, _, state in plan_records(owned[:5], 0)] == [State.SKIPPED] * 5
