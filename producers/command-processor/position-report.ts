// Reporting the command processor's positions to its group (docs/command-side.md
// "Position"): the checkpoints in the snapshot partitions are the truth; the
// group's offsets are committed outside the transactions, at most once a
// second, for lag monitoring and kafka-consumer-groups, past trailing
// transaction markers once every command read is decided (lane-position.ts).
import type { Consumer } from 'kafkajs';
import type { Logger } from '../../infra/logging';
import type { Lane } from './lane';
import { readThrough, reportedOffset } from './lane-position';

export class PositionReport {
  private readonly toReport = new Map<string, { topic: string; partition: number; offset: string }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly consumer: () => Consumer | undefined,
    private readonly log: Logger,
  ) {}

  /** Reports every second from now on. */
  start(): void {
    this.timer = setInterval(() => void this.flush(), 1_000);
    this.timer.unref();
  }

  /** Stops the timer and reports what is left. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  /** Notes the lanes' decided positions for the next report (past trailing transaction markers: lane-position.ts). */
  note(lanes: ReadonlyMap<string, Lane>): void {
    for (const [key, lane] of lanes) this.toReport.set(key, { topic: lane.topics.commands, partition: lane.partition, offset: String(reportedOffset(lane)) });
  }

  /**
   * kafkajs's report of a batch read. A batch of transaction markers (or
   * aborted records) only never reaches eachBatch; when it follows on from what
   * the lane has read, the lane has read past it. Returns whether it moved.
   */
  readPast(lane: Lane, payload: { readonly batchSize: number; readonly firstOffset: string | null; readonly lastOffset: string }): boolean {
    if (payload.batchSize > 0 || payload.firstOffset === null) return false;
    return readThrough(lane, Number(payload.firstOffset), Number(payload.lastOffset));
  }

  /** Commits the decided positions to the group, outside any transaction: what lag monitoring and kafka-consumer-groups read. */
  private async flush(): Promise<void> {
    const consumer = this.consumer();
    if (this.toReport.size === 0 || consumer === undefined) return;
    const offsets = [...this.toReport.values()];
    this.toReport.clear();
    try {
      await consumer.commitOffsets(offsets);
    } catch (error) {
      // A rebalance in progress, or partitions just revoked: the next owner reports them.
      this.log.debug({ err: error }, 'could not report the decided positions to the group');
    }
  }
}
