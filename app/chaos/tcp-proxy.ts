// A TCP proxy on a port of its own that a test opens and closes: closed, a
// client connecting to it is refused, as by a service that is down; open, it
// forwards every connection to the real service.
import net from 'node:net';
import { freePort } from './role-process';

export interface TcpProxy {
  readonly port: number;
  open(): Promise<void>;
  close(): Promise<void>;
}

export async function tcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const port = await freePort();
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  return {
    port,
    async open() {
      if (server) return;
      const listening = net.createServer((client) => {
        const upstream = net.connect({ host: targetHost, port: targetPort });
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => {
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      });
      await new Promise<void>((resolve) => listening.listen(port, '127.0.0.1', resolve));
      server = listening;
    },
    async close() {
      const closing = server;
      server = undefined;
      for (const s of sockets) s.destroy();
      if (closing) await new Promise((resolve) => closing.close(resolve));
    },
  };
}
