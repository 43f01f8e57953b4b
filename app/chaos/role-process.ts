// Runs the project's roles as real processes (tsx app/main.ts), as a user
// would with ROLE=..., and stops or kills them.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Role } from '../roles';
import { repoRoot } from '../../infra/stack/settings';
import { GiveUp, waitFor } from '../../infra/wait-for';

export interface RoleProcess {
  readonly role: string;
  readonly port: number;
  readonly url: string;
  /** The query API of `query` and `all` roles. */
  readonly queryUrl: string;
  /** The web UI of `web` and `all` roles. */
  readonly webUrl: string;
  /** The operations port every role opens: /metrics, /healthz, /readyz. */
  readonly opsUrl: string;
  readonly opsPort: number;
  readonly child: ChildProcess;
  /** Its ports, to start the same instance again on them (startRole's `ports`). */
  readonly ports: RolePorts;
  output(): string;
  /** SIGTERM and wait for a clean exit (fails the test if it takes longer than timeoutMs). */
  stop(timeoutMs?: number): Promise<number | null>;
  /** kill -9: no shutdown hooks, no transaction aborted, nothing flushed. */
  kill(): Promise<void>;
}

export interface RolePorts {
  readonly port: number;
  readonly healthPort: number;
  readonly queryPort: number;
  readonly webPort: number;
}

async function canListen(port: number): Promise<boolean> {
  const server = net.createServer();
  const bound = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (bound) await new Promise((resolve) => server.close(resolve));
  return bound;
}

// Ports are handed out below the kernel's ephemeral range (32768 and up on
// Linux), where every outgoing connection takes its local port: a port found
// free there could be taken by some client's socket (a role's Kafka
// connections) before the role listens on it. Never the same port twice in one
// test process; where each process starts is spread by its pid.
const PORTS_FROM = 20_000;
const PORTS_SPAN = 12_000;
let nextPort = PORTS_FROM + ((process.pid * 97) % PORTS_SPAN);
const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  for (let tries = 0; tries < PORTS_SPAN; tries += 1) {
    const port = nextPort;
    nextPort = PORTS_FROM + ((nextPort - PORTS_FROM + 1) % PORTS_SPAN);
    if (handedOut.has(port)) continue;
    if (await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port from ${PORTS_FROM} to ${PORTS_FROM + PORTS_SPAN - 1}`);
}

const exited = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((resolve) => child.once('exit', (code) => resolve(code)));

/**
 * How a role is started: from the TypeScript sources through tsx (tests), or,
 * with ROLES_FROM=dist, from the compiled tree `npm run build` writes, as
 * production runs it (the benchmarks: no loader thread, no compiler in memory).
 */
export function roleEntryPoint(script = path.join('app', 'main')): string[] {
  if (process.env.ROLES_FROM === 'dist') return ['--enable-source-maps', path.join(repoRoot, 'dist', `${script}.js`)];
  return ['--import', 'tsx', path.join(repoRoot, `${script}.ts`)];
}

/**
 * keepChars: how much of the latest output output() returns (default 20,000 characters);
 * waitReady: false returns as soon as the process runs, without waiting for /readyz (default true).
 */
export async function startRole(
  role: Role,
  env: Record<string, string> = {},
  { keepChars = 20_000, waitReady = true, ports, readyTimeoutMs = 90_000 }: { keepChars?: number; waitReady?: boolean; ports?: RolePorts; readyTimeoutMs?: number } = {},
): Promise<RoleProcess> {
  // A caller may fix the web port in env (the OIDC tests register its redirect URI at the provider first).
  const { port, healthPort, queryPort, webPort } = ports ?? {
    port: await freePort(),
    healthPort: await freePort(),
    queryPort: await freePort(),
    webPort: env.WEB_PORT === undefined ? await freePort() : Number(env.WEB_PORT),
  };
  // node itself with tsx as a loader (not the tsx CLI, which forks a second
  // process): the pid we signal is the role, so kill() really is kill -9.
  const child = spawn(process.execPath, roleEntryPoint(), {
    cwd: repoRoot,
    // Tests and benchmarks drive one principal hard: no per-principal rate limit unless the caller sets one.
    env: {
      ...process.env,
      ROLE: role,
      PORT: String(port),
      HEALTH_PORT: String(healthPort),
      QUERY_PORT: String(queryPort),
      WEB_PORT: String(webPort),
      LOG_LEVEL: process.env.ROLE_LOG_LEVEL ?? 'warn',
      RATE_LIMIT_REQUESTS: process.env.RATE_LIMIT_REQUESTS ?? '0',
      RATE_LIMIT_FAILED_AUTH_PER_MINUTE: process.env.RATE_LIMIT_FAILED_AUTH_PER_MINUTE ?? '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  // ROLE_OUTPUT_DIR=<folder>: each role's whole output also goes to <folder>/<INSTANCE_ID or role>-<pid>.log
  // (output() keeps only the latest characters), to look into a failed run afterwards.
  // The folder is made if missing; a write that fails stops the copy, never the run (which must stop what it started).
  const outputDir = process.env.ROLE_OUTPUT_DIR;
  if (outputDir !== undefined) fs.mkdirSync(outputDir, { recursive: true });
  const tee = outputDir === undefined ? undefined : fs.createWriteStream(path.join(outputDir, `${env.INSTANCE_ID ?? role}-${child.pid}.log`));
  tee?.on('error', (error) => {
    process.stderr.write(`ROLE_OUTPUT_DIR: ${role}'s output is no longer copied: ${error.message}\n`);
    tee.destroy();
  });
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-keepChars);
    tee?.write(chunk);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const url = `http://127.0.0.1:${role === 'query' ? queryPort : role === 'all' || role === 'commands' || role === 'gateway' ? port : healthPort}`;
  const queryUrl = `http://127.0.0.1:${queryPort}`;
  const opsUrl = `http://127.0.0.1:${healthPort}`;
  if (waitReady) {
    try {
      await waitFor(
        `${role} to become ready`,
        async () => {
          if (child.exitCode !== null) throw new GiveUp(`${role} exited with ${child.exitCode} while starting:\n${output}`);
          // The operations port answers /readyz once every role of the process has started (a refused connection: not listening yet).
          const res = await fetch(`${opsUrl}/readyz`, { signal: AbortSignal.timeout(1000) });
          return res.ok ? true : undefined;
        },
        readyTimeoutMs,
        250,
      );
    } catch (error) {
      if (error instanceof GiveUp) throw error;
      child.kill('SIGKILL');
      throw new Error(`${role} did not become ready within ${readyTimeoutMs / 1000} s:\n${output}`, { cause: error });
    }
  }
  return {
    role,
    port,
    url,
    queryUrl,
    webUrl: `http://127.0.0.1:${webPort}`,
    opsUrl,
    opsPort: healthPort,
    child,
    ports: { port, healthPort, queryPort, webPort },
    output: () => output,
    async stop(timeoutMs = 20_000) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited(child);
      clearTimeout(timer);
      return code;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited(child);
    },
  };
}
