// Which tasks a document offers: the query API lists them on the document as
// `actions` (derived from the deciders' own rules, for the caller). The UI
// shows a button for each action listed and for nothing else.
export interface HasActions {
  readonly actions?: readonly string[];
}

export function can(doc: HasActions | undefined, action: string): boolean {
  return doc?.actions?.includes(action) ?? false;
}
