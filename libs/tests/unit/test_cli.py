import asyncio
import os
import signal

from kit.cli import run_until_signalled


class Loop:
    def __init__(self) -> None:
        self.stopped = asyncio.Event()

    async def run(self) -> None:
        await self.stopped.wait()

    async def stop(self) -> None:
        self.stopped.set()


async def test_sigterm_stops_the_worker_and_close_runs_after_it() -> None:
    worker, order = Loop(), []

    async def close() -> None:
        order.append("closed" if worker.stopped.is_set() else "closed early")

    task = asyncio.create_task(run_until_signalled(worker, close=close))
    await asyncio.sleep(0.05)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(task, 5)
    assert order == ["closed"]
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
