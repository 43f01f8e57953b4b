// The fault schedule: which faults, against what, and when, from a seed. Pure,
// so the same seed plans the same faults (and a unit test says so).
import { seededRandom } from '../../demo/random';

export const FAULT_KINDS = ['kill-role', 'broker-restart', 'leader-kill', 'controller-loss', 'redis-restart', 'registry-down', 'network-cut', 'rolling-restart'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
/** Faults that need a cluster: the node leading the busiest partitions killed -9, the active controller killed -9 (each started again). */
export const CLUSTER_ONLY_FAULTS: readonly FaultKind[] = ['leader-kill', 'controller-loss'];
/** Every kind the given Kafka can take. */
export const faultKindsFor = (kafka: 'single' | 'cluster'): FaultKind[] => FAULT_KINDS.filter((k) => kafka === 'cluster' || !CLUSTER_ONLY_FAULTS.includes(k));

export interface PlannedFault {
  readonly kind: FaultKind;
  /** The instance it hits (kill-role, network-cut); undefined for the others. */
  readonly target?: string;
  /** When it starts, in ms from the start of the load. */
  readonly atMs: number;
}

export interface ScheduleOptions {
  readonly seed: string;
  readonly faults: number;
  /** The load's duration: faults start within it. */
  readonly durationMs: number;
  readonly instances: readonly string[];
  /** The kinds to draw from (default all, cluster-only ones included). */
  readonly kinds?: readonly FaultKind[];
}

/**
 * `faults` faults, every kind once before any twice (in a seeded order), then
 * drawn at random; kill-role goes round the instances in a seeded order, so
 * every instance is killed once before any twice. Start times are spread
 * evenly over the first 80 % of the duration (faults run one after another, each
 * waiting for the previous one's recovery, so a late start only means a later
 * start).
 */
export function planFaults(options: ScheduleOptions): PlannedFault[] {
  const random = seededRandom(options.seed, 'chaos-faults');
  const kinds = [...(options.kinds ?? FAULT_KINDS)];
  if (kinds.length === 0) throw new Error('no fault kinds to draw from');
  if (options.instances.length === 0) throw new Error('no instances to aim faults at');
  const shuffled = <T>(items: readonly T[]): T[] => {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i -= 1) {
      const j = random.int(0, i);
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  };
  const order: FaultKind[] = [];
  while (order.length < options.faults) order.push(...shuffled(kinds));
  const victims: string[] = [];
  const nextVictim = (): string => {
    if (victims.length === 0) victims.push(...shuffled(options.instances));
    return victims.shift() as string;
  };
  const span = options.durationMs * 0.8;
  const gap = options.faults === 0 ? 0 : span / options.faults;
  return order.slice(0, options.faults).map((kind, i) => ({
    kind,
    ...(kind === 'kill-role' || kind === 'network-cut' ? { target: nextVictim() } : {}),
    atMs: Math.round(gap * i + random.next() * gap * 0.5),
  }));
}
