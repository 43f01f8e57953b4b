// Starts a gateway app on a port with node's http server. The caller builds the
// app (createGatewayApp with the real Kafka CommandBus and menu catalog) and owns
// the process lifecycle: close() stops taking connections and waits for the
// requests in flight.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Application } from 'express';
import { refuseConnect } from '../../infra/http/servers';

export interface RunningServer {
  readonly server: Server;
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  /** e.g. http://127.0.0.1:8080 */
  readonly url: string;
  close(): Promise<void>;
}

export function startGatewayServer(app: Application, options: { readonly port: number; readonly host?: string }): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer(app);
  server.on('connect', refuseConnect);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      resolve({
        server,
        port,
        url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((error) => (error === undefined ? done() : fail(error)));
            // Idle keep-alive connections would otherwise hold close() open.
            server.closeIdleConnections();
          }),
      });
    });
  });
}
