"""serve() drives an asyncio event loop in its own thread: a line-echo TCP
server on loopback (port 0: the kernel picks one), as aiohttp-style modules
do. shutdown() comes from another thread, so it wakes the loop with
call_soon_threadsafe; serve() then closes the server and the loop and
returns, leaving no thread behind. On 2.7 `async def` is a SyntaxError."""
import asyncio
import socket
import threading

import pyhost


class ModernAsyncioServe(pyhost.Module):
    def __init__(self):
        super().__init__()
        self.loop = None
        self.port = None
        self.ready = threading.Event()

    async def handle(self, reader, writer):
        async for line in reader:  # bytes, one line at a time, until EOF
            writer.write(line.decode('utf-8').upper().encode('utf-8'))
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def main(self):
        self.wake = asyncio.Event()
        server = await asyncio.start_server(self.handle, '127.0.0.1', 0)
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        while not self.stopping.is_set():
            await self.wake.wait()
        server.close()
        await server.wait_closed()

    def serve(self):
        self.loop = loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self.main())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            self.loop = None
            loop.close()

    def shutdown(self):
        super().shutdown()
        loop = self.loop
        if loop is not None and self.ready.is_set():
            try:
                loop.call_soon_threadsafe(self.wake.set)
            except RuntimeError:
                pass  # the loop closed in between: serve() is returning anyway

    def self_test(self):
        assert self.ready.wait(10), 'the event loop did not start'
        with socket.create_connection(('127.0.0.1', self.port), timeout=10) as conn:
            conn.sendall('grüße\n'.encode('utf-8'))
            reply = conn.makefile('rb').readline()
        assert isinstance(reply, bytes) and reply != 'GRÜSSE\n', reply
        assert reply.decode('utf-8') == 'GRÜSSE\n', reply  # str.upper() knows ß
