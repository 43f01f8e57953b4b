// The processes `npm run bench:state` measures: the project's roles started as
// production runs them (compiled, from dist), pointed at the bench's topic set
// by TOPIC_PREFIX, and the Kafka Streams peer (bench/streams-peer), built with
// Maven from Maven Central jars. Each start is timed to "can take commands":
// /readyz for the processor (ready once its partitions are restored), the
// RUNNING state for the peer.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Role } from '../../app/roles';
import { repoRoot } from '../../infra/stack/settings';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';
import { sleep } from '../http-load';

const READY_TIMEOUT_MS = Number(process.env.BENCH_STATE_READY_TIMEOUT_S ?? 1800) * 1000;

/** Resident memory of a process, from /proc (MB). */
export function rssMb(pid: number | undefined): number {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid ?? 0}/status`, 'utf8'))?.[1] ?? NaN);
    return kb / 1024;
  } catch {
    return NaN;
  }
}

export interface Started<P> {
  readonly process: P;
  /** From spawn to ready. */
  readonly readyMs: number;
}

/** A role, timed from spawn to /readyz; a restore of millions of snapshots may take far longer than startRole's 90 s. */
export async function startTimed(role: Role, env: Record<string, string>): Promise<Started<RoleProcess>> {
  const t0 = Date.now();
  const started = await startRole(role, env, { waitReady: false, keepChars: 200_000 });
  for (;;) {
    if (started.child.exitCode !== null) throw new Error(`${role} exited with ${started.child.exitCode} while starting:\n${started.output().slice(-4000)}`);
    const ok = await fetch(`${started.opsUrl}/readyz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
    if (ok) return { process: started, readyMs: Date.now() - t0 };
    if (Date.now() - t0 > READY_TIMEOUT_MS) {
      await started.kill();
      throw new Error(`${role} was not ready within ${READY_TIMEOUT_MS / 1000} s (BENCH_STATE_READY_TIMEOUT_S):\n${started.output().slice(-4000)}`);
    }
    await sleep(100);
  }
}

/** A restore the processor logged: the records applied and the time it took, from the first store's restore start to the last one's end. */
export interface LoggedRestore {
  readonly ms: number;
  readonly snapshots: number;
  /** Stores restored (one per partition and aggregate type). */
  readonly stores: number;
  /** The sum of every store's own restore time (above `ms` when stores restored side by side). */
  readonly storeMs: number;
}

/** The processor's engine before the runtime (figures in docs/scaling-bench.md were read from it): one line per partition with all its aggregate types. */
const ENGINE_LINE = '"partition state restored"';
/** The stateful runtime (infra/stateful/load.ts): one line per store (partition and aggregate type), by delta or rebuilt. */
const RUNTIME_LINES = ['"partition store restored by delta"', '"partition store rebuilt from the changelog"'];

/**
 * What the processor logs when its stores are restored, whichever engine ran:
 * the restore alone, without start-up and group join. The runtime restores its
 * stores one after the other or side by side and logs each with its `ms`
 * (JSON logs with ISO `time`): the restore is the span from the earliest
 * `time - ms` to the latest `time`.
 */
export function restoreLogged(output: string): LoggedRestore | undefined {
  const lines = output.split('\n').filter((l) => l.includes(ENGINE_LINE) || RUNTIME_LINES.some((r) => l.includes(r)));
  if (lines.length === 0) return undefined;
  const parsed = lines.map((l) => JSON.parse(l.slice(l.indexOf('{'))) as { ms?: number; snapshots?: number; records?: number; time?: string });
  const ends = parsed.map((p) => (p.time === undefined ? NaN : Date.parse(p.time)));
  const starts = parsed.map((p, i) => (ends[i] ?? NaN) - (p.ms ?? 0));
  const span = Math.max(...ends) - Math.min(...starts);
  const storeMs = parsed.reduce((n, p) => n + (p.ms ?? 0), 0);
  return {
    ms: Number.isFinite(span) ? span : Math.max(...parsed.map((p) => p.ms ?? 0)),
    snapshots: parsed.reduce((n, p) => n + (p.snapshots ?? p.records ?? 0), 0),
    stores: parsed.length,
    storeMs,
  };
}

const PEER_DIR = path.join(repoRoot, 'bench', 'streams-peer');

/** Builds the peer (mvn package: compiles, writes target/classpath.txt) and returns the java command line's class path. */
export function buildPeer(): string {
  execFileSync('mvn', ['-q', '-B', 'package'], { cwd: PEER_DIR, stdio: 'inherit' });
  const jars = fs.readFileSync(path.join(PEER_DIR, 'target', 'classpath.txt'), 'utf8').trim();
  return `${path.join(PEER_DIR, 'target', 'classes')}${path.delimiter}${jars}`;
}

export interface PeerProcess {
  readonly child: ChildProcess;
  /** From the peer's own restore listener: records restored and the time from the first restore start to the last restore end. */
  readonly restored: { records: number; ms: number };
  output(): string;
  stop(): Promise<void>;
}

export interface PeerSettings {
  readonly classPath: string;
  readonly bootstrap: string;
  readonly applicationId: string;
  readonly stateDir: string;
  readonly snapshots: string;
  readonly commands: string;
  readonly replies: string;
  /** JVM flags, e.g. the heap (BENCH_STATE_PEER_JVM, default -Xmx256m). */
  readonly jvm: readonly string[];
}

export async function startPeer(settings: PeerSettings): Promise<Started<PeerProcess>> {
  const t0 = Date.now();
  const child = spawn('java', [...settings.jvm, '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-cp', settings.classPath, 'bench.StatePeer'], {
    env: {
      ...process.env,
      PEER_BOOTSTRAP: settings.bootstrap,
      PEER_APPLICATION_ID: settings.applicationId,
      PEER_STATE_DIR: settings.stateDir,
      PEER_SNAPSHOTS_TOPIC: settings.snapshots,
      PEER_COMMANDS_TOPIC: settings.commands,
      PEER_REPLIES_TOPIC: settings.replies,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer): void => void (output = (output + chunk.toString()).slice(-50_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (;;) {
    const running = /PEER running (\d+) restored (\d+) in (\d+)/.exec(output);
    if (running) {
      const restored = { records: Number(running[2]), ms: Number(running[3]) };
      const stop = async (): Promise<void> => {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
        await exited;
        clearTimeout(timer);
      };
      return { process: { child, restored, output: () => output, stop }, readyMs: Date.now() - t0 };
    }
    if (child.exitCode !== null) throw new Error(`the Streams peer exited with ${child.exitCode} while starting:\n${output.slice(-4000)}`);
    if (Date.now() - t0 > READY_TIMEOUT_MS) {
      child.kill('SIGKILL');
      throw new Error(`the Streams peer was not running within ${READY_TIMEOUT_MS / 1000} s:\n${output.slice(-4000)}`);
    }
    await sleep(100);
  }
}
