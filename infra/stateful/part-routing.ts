// Which part of a task a piece of work belongs to (docs/stateful-runtime.md
// "Several definitions per task"), pure: a batch to the part owning its topic
// (an input or its parked topic), due deadlines to the part that set them, a
// flush to none; and a round's consumed offsets split by the part owning each
// topic (each part's position store writes its own).
import type { Work } from './round';

/** Physical topic -> index of the part that consumes it. */
export function ownersOf(parts: ReadonlyArray<{ readonly consumed: readonly string[] }>): ReadonlyMap<string, number> {
  const owners = new Map<string, number>();
  parts.forEach((part, index) => {
    for (const topic of part.consumed) owners.set(topic, index);
  });
  return owners;
}

/** The pieces of `work`, each with its part: one for a batch, one per part for deadlines, none for a flush. */
export function routeWork(work: Work, owners: ReadonlyMap<string, number>): Array<{ readonly part: number; readonly work: Work }> {
  switch (work.kind) {
    case 'batch': {
      const part = owners.get(work.batch.topic);
      if (part === undefined) throw new Error(`no part of the task consumes ${work.batch.topic}`);
      return [{ part, work }];
    }
    case 'deadlines': {
      const byPart = new Map<number, Array<(typeof work.due)[number]>>();
      for (const entry of work.due) {
        const part = entry.part ?? 0;
        const list = byPart.get(part);
        if (list === undefined) byPart.set(part, [entry]);
        else list.push(entry);
      }
      return [...byPart].sort(([a], [b]) => a - b).map(([part, due]) => ({ part, work: { kind: 'deadlines', due } }));
    }
    case 'flush':
      return [];
  }
}

/** Offsets (physical topic -> next offset) split into one map per part, by the part owning each topic. */
export function splitOffsets(offsets: ReadonlyMap<string, number>, owners: ReadonlyMap<string, number>, parts: number): Array<Map<string, number>> {
  const out = Array.from({ length: parts }, () => new Map<string, number>());
  for (const [topic, offset] of offsets) {
    const part = owners.get(topic);
    if (part === undefined) throw new Error(`no part of the task consumes ${topic}`);
    out[part]?.set(topic, offset);
  }
  return out;
}
