// How far a replay has come, and how it is shown: pure, so the numbers and the
// bar are tested without Kafka. Progress is counted in offsets between where
// each partition started and the end offset it set out to reach (transaction
// markers included, so "caught up" is exact); the rate shown is events read.
export interface PartitionSpan {
  /** The offset the replay starts reading at. */
  readonly start: number;
  /** The partition's end offset when the replay began: reaching it is "caught up". */
  readonly end: number;
}

export interface ProgressSnapshot {
  readonly done: number;
  readonly total: number;
  /** 0..1; 1 when there was nothing to read. */
  readonly ratio: number;
  /** Events read per second over the recent window (0 before the second sample). */
  readonly eventsPerSecond: number;
  /** Seconds left at the recent rate; undefined while the rate is unknown. */
  readonly etaSeconds: number | undefined;
  readonly caughtUp: boolean;
  readonly elapsedSeconds: number;
  /** Events read since the start. */
  readonly events: number;
}

interface Sample {
  readonly at: number;
  readonly done: number;
  readonly events: number;
}

export class ReplayProgress {
  private readonly positions = new Map<string, number>();
  private events = 0;
  private readonly samples: Sample[] = [];
  private readonly total: number;

  constructor(
    private readonly spans: ReadonlyMap<string, PartitionSpan>,
    private readonly startedAt: number,
    /** The window the rate is measured over. */
    private readonly windowMs = 5_000,
  ) {
    for (const [key, span] of spans) this.positions.set(key, span.start);
    this.total = [...spans.values()].reduce((sum, s) => sum + Math.max(0, s.end - s.start), 0);
    this.samples.push({ at: startedAt, done: 0, events: 0 });
  }

  /** A partition was read up to `position` (exclusive), `messages` more events. */
  update(key: string, position: number, messages: number): void {
    const known = this.positions.get(key);
    if (known === undefined) return; // a partition outside the replay
    this.positions.set(key, Math.max(known, position));
    this.events += messages;
  }

  private done(): number {
    let done = 0;
    for (const [key, span] of this.spans) done += Math.max(0, Math.min(this.positions.get(key) ?? span.start, span.end) - span.start);
    return done;
  }

  snapshot(now: number): ProgressSnapshot {
    const done = this.done();
    this.samples.push({ at: now, done, events: this.events });
    while (this.samples.length > 2 && (this.samples[1] as Sample).at <= now - this.windowMs) this.samples.shift();
    const first = this.samples[0] as Sample;
    const seconds = (now - first.at) / 1000;
    const offsetsPerSecond = seconds > 0 ? (done - first.done) / seconds : 0;
    const caughtUp = done >= this.total;
    return {
      done,
      total: this.total,
      ratio: this.total === 0 ? 1 : done / this.total,
      eventsPerSecond: seconds > 0 ? (this.events - first.events) / seconds : 0,
      etaSeconds: caughtUp ? 0 : offsetsPerSecond > 0 ? (this.total - done) / offsetsPerSecond : undefined,
      caughtUp,
      elapsedSeconds: (now - this.startedAt) / 1000,
      events: this.events,
    };
  }
}

const count = (n: number): string => Math.round(n).toLocaleString('en-US');

/** `1h02m`, `3m05s`, `12s`. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** `[########------------]  40.0%  4,000/10,000 offsets  1,234 events/s  ETA 5s` */
export function progressLine(p: ProgressSnapshot, width = 24): string {
  const filled = Math.min(width, Math.floor(p.ratio * width));
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  const eta = p.caughtUp ? 'caught up' : p.etaSeconds === undefined ? 'ETA --' : `ETA ${duration(p.etaSeconds)}`;
  return `${bar} ${(p.ratio * 100).toFixed(1).padStart(5)}%  ${count(p.done)}/${count(p.total)} offsets  ${count(p.eventsPerSecond)} events/s  ${eta}`;
}
