/**
 * A TCP relay in front of an HTTP/2 server that counts the frames going each way by type, so a
 * test can see what no API shows: whether a client sent RST_STREAM, whether a server sent
 * GOAWAY. HTTP/2 frames are a 9-byte header (24-bit length, type, flags, stream id) and a
 * payload; the client's side starts with the 24-byte connection preface.
 */
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';

export const frameType = { rstStream: 0x3, goaway: 0x7 } as const;

export interface FrameCounter {
  port: number;
  /** Frames of `type` sent by clients to the server. */
  fromClients(type: number): number;
  /** Frames of `type` sent by the server to clients. */
  fromServer(type: number): number;
  /** How many connections have been relayed. */
  connections(): number;
  /** Cuts every relayed connection (the listener stays). */
  dropConnections(): void;
  close(): Promise<void>;
}

function counter(skip: number, counts: Map<number, number>) {
  let pending = Buffer.alloc(0);
  let toSkip = skip;
  return (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    const skipped = Math.min(toSkip, pending.length);
    pending = pending.subarray(skipped);
    toSkip -= skipped;
    while (pending.length >= 9) {
      const length = pending.readUIntBE(0, 3);
      if (pending.length < 9 + length) break;
      const type = pending[3] ?? -1;
      counts.set(type, (counts.get(type) ?? 0) + 1);
      pending = pending.subarray(9 + length);
    }
  };
}

export async function startFrameCounter(targetPort: number): Promise<FrameCounter> {
  const clientFrames = new Map<number, number>();
  const serverFrames = new Map<number, number>();
  const sockets = new Set<Socket>();
  let connections = 0;
  const relay = createServer((inbound) => {
    connections += 1;
    const outbound = connect(targetPort, '127.0.0.1');
    const countClient = counter(24, clientFrames);
    const countServer = counter(0, serverFrames);
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
    }
    inbound.on('data', (chunk) => {
      countClient(chunk);
      outbound.write(chunk);
    });
    outbound.on('data', (chunk) => {
      countServer(chunk);
      inbound.write(chunk);
    });
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return {
    port: (relay.address() as AddressInfo).port,
    fromClients: (type) => clientFrames.get(type) ?? 0,
    fromServer: (type) => serverFrames.get(type) ?? 0,
    connections: () => connections,
    dropConnections: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        relay.close(() => resolve());
      }),
  };
}
