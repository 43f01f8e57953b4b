import type { Artifacts } from './provision';
import type { Launched } from './processes';

/** One component of the local stack: how to tell it is healthy and how to start it here. */
export interface Service {
  readonly kind: 'kafka' | 'registry' | 'redis' | 'zipkin';
  /** The kind, or on a cluster `kafka-<node id>`. */
  readonly name: string;
  /** What clients connect to. */
  readonly address: string;
  /** Ports it listens on, with the environment variable that moves each. */
  readonly ports: ReadonlyArray<{ readonly port: number; readonly env: string }>;
  readonly logFile: string;
  readonly pidFile: string;
  /** A string in the command line of the process we start, to recognise it by pid. */
  readonly marker: string;
  healthy(): Promise<boolean>;
  start(artifacts: Artifacts): Launched;
  /** Runs once the service (and the rest of its stage) is healthy, on every stack:up (idempotent): e.g. the registry's ACLs on a secured broker. */
  prepare?(): Promise<void>;
}
