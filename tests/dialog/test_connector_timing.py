import asyncio

from voice_agent.dialog.connector_timing import TimedConnector


class _Slow:
    capabilities = frozenset()
    calls: tuple[str, ...] = ()

    async def book(self, **kwargs):
        await asyncio.sleep(0.01)
        return "booked"

    async def cancel(self, booking_id):
        raise RuntimeError("down")


def test_calls_are_timed_and_taken_once():
    timed = TimedConnector(_Slow())

    async def run():
        assert await timed.book(name="x") == "booked"
        try:
            await timed.cancel("b1")
        except RuntimeError:
            pass

    asyncio.run(run())
    taken = timed.take_timings()
    assert [t["op"] for t in taken] == ["book", "cancel"]
    assert taken[0]["event"] == "connector_call" and taken[0]["seconds"] >= 0.009
    assert timed.take_timings() == []
    assert timed.capabilities == frozenset() and timed.calls == ()  # passed through
