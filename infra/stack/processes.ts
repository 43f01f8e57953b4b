import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** A process the stack started, remembered in a pid file so a later command can find and stop it. */
export interface Tracked {
  readonly pid: number;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** The live process recorded in pidFile, if it still runs the program we started (guards against pid reuse). */
export function tracked(pidFile: string, marker: string): Tracked | undefined {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  const cmd = commandLine(pid);
  return cmd === '' || cmd.includes(marker) ? { pid } : undefined;
}

/** True when something accepts TCP connections on host:port. */
export function listening(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (result: boolean): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Best effort: "pid 123 (java ...)" for whatever listens on the port, for error messages. */
export function holderOf(port: number): string {
  const ss = spawnSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
  const match = /pid=(\d+)/.exec(ss.stdout ?? '');
  if (!match) return 'another process';
  const pid = Number(match[1]);
  const cmd = commandLine(pid).slice(0, 120).trim();
  return `pid ${pid}${cmd ? ` (${cmd})` : ''}`;
}

export interface Launch {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly logFile: string;
  readonly pidFile: string;
}

export interface Launched {
  readonly pid: number;
  /** Resolves with the exit code if the process ends; stays pending while it runs. */
  readonly exited: Promise<number | null>;
}

/** Starts a detached process that outlives this command, logging to a file. */
export function launch(spec: Launch): Launched {
  fs.mkdirSync(spec.cwd, { recursive: true });
  fs.mkdirSync(path.dirname(spec.logFile), { recursive: true });
  const log = fs.openSync(spec.logFile, 'a');
  const child = spawn(spec.command, [...spec.args], { cwd: spec.cwd, detached: true, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(-1));
  });
  if (child.pid === undefined) throw new Error(`could not start ${spec.command}`);
  fs.mkdirSync(path.dirname(spec.pidFile), { recursive: true });
  fs.writeFileSync(spec.pidFile, String(child.pid));
  child.unref();
  return { pid: child.pid, exited };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** SIGTERM, wait up to graceMs for the process to end, then SIGKILL. */
export async function terminate(pid: number, graceMs: number): Promise<'stopped' | 'killed'> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'stopped';
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return 'stopped';
    await sleep(200);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return 'stopped';
  }
  return 'killed';
}

export function tailOf(file: string, lines: number): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return `(no log at ${file})`;
  }
}
