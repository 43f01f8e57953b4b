// A Redis of a test's own: `redis-server --save '' --appendonly no` on a free
// port, so a test can restart it and lose everything without touching anyone
// else's Redis (never FLUSHALL on a shared one).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { redisPing } from '../../infra/stack/services';
import { freePort } from './role-process';
import { GiveUp, waitFor } from '../../infra/wait-for';

export interface TestRedisServer {
  readonly port: number;
  readonly url: string;
  /** Stops it (its data is gone: nothing is kept on disk) and starts it again, empty, on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedisServer(): Promise<TestRedisServer> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-'));
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
    child = server;
    await waitFor(
      `redis-server on port ${port} to answer`,
      async () => {
        if (server.exitCode !== null) throw new GiveUp(`redis-server on port ${port} exited with ${server.exitCode}`);
        return (await redisPing('127.0.0.1', port)) ? true : undefined;
      },
      10_000,
      50,
    );
  };
  const halt = async (): Promise<void> => {
    const server = child;
    if (!server || server.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
    server.kill('SIGTERM');
    await exited;
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async restart() {
      await halt();
      await launch();
    },
    async stop() {
      await halt();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
