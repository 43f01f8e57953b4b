// How far a reader of a whole topic (a topic view, the key store) has read
// each partition, and a bounded wait until it has read up to given ends: the
// "caught up" that lets a caller tell "not there" from "not read yet".
import type { SeekEntry } from 'kafkajs';

type PartitionEnd = SeekEntry & { readonly high: string; readonly low: string };

export class ReadPositions {
  private readonly last = new Map<number, number>(); // partition -> last offset read
  private readonly listeners = new Set<() => void>();

  /** A batch of the partition has been read up to `lastOffset` (markers included). */
  advance(partition: number, lastOffset: number): void {
    this.last.set(partition, lastOffset);
    this.listeners.forEach((l) => l());
  }

  /** The last offset read of each partition read so far. */
  entries(): IterableIterator<[number, number]> {
    return this.last.entries();
  }

  /** Every partition read up to the end it had (an empty partition is read). */
  reached(ends: readonly PartitionEnd[]): boolean {
    return ends.every((e) => Number(e.high) <= Number(e.low) || (this.last.get(e.partition) ?? -1) >= Number(e.high) - 1);
  }

  /** Waits (at most timeoutMs) until `reached(ends)`; false if it was not. */
  until(ends: readonly PartitionEnd[], timeoutMs: number): Promise<boolean> {
    if (this.reached(ends)) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const listener = (): void => {
        if (this.reached(ends)) finish(true);
      };
      const finish = (result: boolean): void => {
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(result);
      };
      const timer = setTimeout(() => finish(this.reached(ends)), timeoutMs);
      this.listeners.add(listener);
    });
  }
}
