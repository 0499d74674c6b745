"""Cutting an IP range into slices and a list into chunks, for the balanced actions."""

from __future__ import annotations

from hypothesis import given, strategies as st

from fusion_bridge.domain import slices


@given(total=st.integers(1, 70000), parts=st.integers(1, 500))
def test_slices_are_contiguous_disjoint_nearly_equal_and_cover_the_range(total, parts):
    cut = slices.split_range(total, parts)
    assert len(cut) == min(total, parts)
    assert cut[0][0] == 0 and sum(count for _, count in cut) == total
    for (first, count), (next_first, _) in zip(cut, cut[1:]):
        assert first + count == next_first
    assert max(c for _, c in cut) - min(c for _, c in cut) <= 1


@given(items=st.integers(0, 200), parts=st.integers(1, 30))
def test_chunks_keep_every_item_once(items, parts):
    cut = slices.chunk(list(range(items)), parts)
    assert [i for part in cut for i in part] == list(range(items))
    assert len(cut) <= parts and all(len(part) == -(-items // parts) for part in cut[:-1])
