#!/usr/bin/env python3
"""Test-only Bolt 4.4 front for kglite-bolt-server (which speaks Bolt 5.1+).

neo4rs, our Bolt driver, offers Bolt 4.1-4.4 only; kglite-bolt-server offers
5.1-5.4 and wants a LOGON message after HELLO. This proxy answers the
client's handshake with 4.4, opens 5.1 upstream, forwards the client's HELLO,
adds LOGON {scheme: "none"} after it, passes HELLO's reply back, drops
LOGON's reply, and from then on copies bytes both ways. Queries must return
scalars, lists and maps (node structures differ between Bolt 4 and 5): ours
do. Started by scripts/services.sh; never used in production, where the graph
is a real Neo4j.

Usage: bolt44_adapter.py LISTEN_PORT UPSTREAM_PORT  (both on 127.0.0.1)
"""
import asyncio
import struct
import sys

MAGIC = b"\x60\x60\xb0\x17"
BOLT_44 = b"\x00\x00\x04\x04"
BOLT_51 = b"\x00\x00\x01\x05"
# One chunk holding the structure LOGON (0x6A) with the map {"scheme": "none"}, then the end marker.
LOGON_NONE = bytes([0xB1, 0x6A, 0xA1, 0x86]) + b"scheme" + bytes([0x84]) + b"none"
LOGON_MESSAGE = struct.pack(">H", len(LOGON_NONE)) + LOGON_NONE + b"\x00\x00"


async def read_message(reader):
    """One chunked Bolt message, with its framing, as bytes."""
    out = bytearray()
    while True:
        header = await reader.readexactly(2)
        out += header
        (size,) = struct.unpack(">H", header)
        if size == 0:
            if len(out) > 2:
                return bytes(out)
            out.clear()  # a NOOP keep-alive chunk between messages
            continue
        out += await reader.readexactly(size)


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def serve(client_reader, client_writer, upstream_port):
    try:
        handshake = await client_reader.readexactly(20)
        if handshake[:4] != MAGIC or BOLT_44[2:] not in [handshake[i + 2:i + 4] for i in range(4, 20, 4)]:
            client_writer.write(b"\x00\x00\x00\x00")  # no version in common
            await client_writer.drain()
            client_writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        up_writer.write(MAGIC + BOLT_51 + bytes(12))
        await up_writer.drain()
        if await up_reader.readexactly(4) != BOLT_51:
            raise ConnectionError("upstream refused Bolt 5.1")
        client_writer.write(BOLT_44)
        await client_writer.drain()
        hello = await read_message(client_reader)
        up_writer.write(hello + LOGON_MESSAGE)
        await up_writer.drain()
        client_writer.write(await read_message(up_reader))  # HELLO's reply
        await client_writer.drain()
        await read_message(up_reader)  # LOGON's reply, which a 4.4 client does not expect
        await asyncio.gather(pipe(client_reader, up_writer), pipe(up_reader, client_writer))
    except (ConnectionError, asyncio.IncompleteReadError, OSError) as error:
        print(f"bolt44_adapter: connection ended: {error}", file=sys.stderr)
        client_writer.close()


async def main():
    listen_port, upstream_port = int(sys.argv[1]), int(sys.argv[2])
    server = await asyncio.start_server(lambda r, w: serve(r, w, upstream_port), "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
