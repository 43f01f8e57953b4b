// What the command processor holds, counted over its lanes (for metrics.ts).
import type { Lane } from './lane';

/** Aggregates by aggregate type: all of those held (on disk), and of them the decoded ones. */
export function aggregatesHeld(lanes: Iterable<Lane>): Map<string, { held: number; decoded: number }> {
  const out = new Map<string, { held: number; decoded: number }>();
  for (const lane of lanes) {
    const counts = out.get(lane.runtime.aggregate) ?? { held: 0, decoded: 0 };
    out.set(lane.runtime.aggregate, { held: counts.held + lane.entries.size, decoded: counts.decoded + lane.entries.decodedSize });
  }
  return out;
}

/** Aggregates parked, and the commands parked in them, by aggregate type (parking.ts). */
export function parkedAggregates(lanes: Iterable<Lane>): Map<string, { aggregates: number; commands: number }> {
  const out = new Map<string, { aggregates: number; commands: number }>();
  for (const lane of lanes) {
    const counts = out.get(lane.runtime.aggregate) ?? { aggregates: 0, commands: 0 };
    out.set(lane.runtime.aggregate, { aggregates: counts.aggregates + lane.parking.parked.size, commands: counts.commands + lane.parking.inputs });
  }
  return out;
}
