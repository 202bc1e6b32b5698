import { DEFAULT_MAILBOXES, MAILBOX_DELIMITER, type SpecialUse } from '@palabre/core';

/** A folder as the legacy server LISTs it (RFC 9051 LIST, RFC 6154 special-use, RFC 5258 subscribed). */
export interface LegacyFolder {
  /** The name as the legacy server spells it, decoded from modified UTF-7. */
  readonly path: string;
  /** The legacy hierarchy delimiter (null: a flat namespace). */
  readonly delimiter: string | null;
  /** LIST attributes (`\Noselect`, `\HasChildren`, `\Sent`…), any case. */
  readonly flags: Iterable<string>;
  readonly specialUse?: string | null;
  readonly subscribed: boolean;
}

export interface PlannedFolder {
  readonly legacy: string;
  /** Our name: `/`-separated, NFC; a special-use folder lands in our mailbox of that use. */
  readonly target: string;
  readonly specialUse: SpecialUse | null;
  /** False for `\Noselect`/`\NonExistent` folders: only their children hold messages. */
  readonly selectable: boolean;
  readonly subscribed: boolean;
}

export interface FolderPlan {
  readonly folders: PlannedFolder[];
  /** Legacy folders not copied, and why (virtual folders would copy every message a second time). */
  readonly skipped: { readonly legacy: string; readonly reason: string }[];
}

/** Special uses we keep a mailbox for (DEFAULT_MAILBOXES); \All and \Flagged are views, not folders. */
const OUR_SPECIAL = new Map(DEFAULT_MAILBOXES.filter((m) => m.specialUse).map((m) => [m.specialUse!.toLowerCase(), m]));
const VIRTUAL = new Set(['\\all', '\\flagged']);
const UNSELECTABLE = new Set(['\\noselect', '\\nonexistent']);

/**
 * One component of a legacy name as one of ours: our delimiter inside a legacy name (a `.`-delimited
 * server allows `/` in names) becomes `-`, an empty component `_`, and the text is NFC.
 */
function component(part: string): string {
  const text = part.normalize('NFC').split(MAILBOX_DELIMITER).join('-');
  return text === '' ? '_' : text;
}

function convert(path: string, delimiter: string | null): string[] {
  const parts = delimiter && delimiter !== '' ? path.split(delimiter) : [path];
  return parts.map(component);
}

/**
 * Decide where each legacy folder goes. INBOX is INBOX whatever its case; the first legacy folder of
 * each special use (\Sent, \Drafts, \Trash, \Junk, \Archive) lands in ours, its children under it; the
 * rest keep their names with our delimiter.
 */
export function planFolders(legacy: readonly LegacyFolder[]): FolderPlan {
  const folders: PlannedFolder[] = [];
  const skipped: FolderPlan['skipped'][number][] = [];
  /** Legacy name → our name for folders moved onto a special mailbox (their children follow). */
  const moved: { legacy: string[]; target: string[] }[] = [];
  const claimed = new Set<string>();
  const attrs = (f: LegacyFolder) => new Set([...f.flags, ...(f.specialUse ? [f.specialUse] : [])].map((a) => a.toLowerCase()));
  // Special-use folders first, so their children (listed before or after them) find the move.
  const ordered = [...legacy].sort(
    (a, b) => Number([...attrs(b)].some((x) => OUR_SPECIAL.has(x))) - Number([...attrs(a)].some((x) => OUR_SPECIAL.has(x))),
  );
  const seen = new Set<string>();
  for (const f of ordered) {
    if (seen.has(f.path)) continue;
    seen.add(f.path);
    const a = attrs(f);
    const virtual = [...a].find((x) => VIRTUAL.has(x));
    if (virtual) {
      skipped.push({
        legacy: f.path,
        reason: `virtual folder (${virtual === '\\all' ? '\\All' : '\\Flagged'}): its messages are copied from their own folders`,
      });
      continue;
    }
    let parts = convert(f.path, f.delimiter);
    let specialUse: SpecialUse | null = null;
    if (parts.length === 1 && parts[0]!.toUpperCase() === 'INBOX') parts = ['INBOX'];
    const use = [...a].find((x) => OUR_SPECIAL.has(x));
    if (use && !claimed.has(use)) {
      claimed.add(use);
      const ours = OUR_SPECIAL.get(use)!;
      specialUse = ours.specialUse;
      moved.push({ legacy: parts, target: [ours.name] });
      parts = [ours.name];
    } else {
      // The longest moved ancestor wins.
      const parent = moved
        .filter((m) => m.legacy.length < parts.length && m.legacy.every((p, i) => p === parts[i]))
        .sort((x, y) => y.legacy.length - x.legacy.length)[0];
      if (parent) parts = [...parent.target, ...parts.slice(parent.legacy.length)];
    }
    folders.push({
      legacy: f.path,
      target: parts.join(MAILBOX_DELIMITER),
      specialUse,
      selectable: ![...a].some((x) => UNSELECTABLE.has(x)),
      subscribed: f.subscribed,
    });
  }
  // Parents before children: the order mailboxes are created in.
  folders.sort(
    (x, y) =>
      x.target.split(MAILBOX_DELIMITER).length - y.target.split(MAILBOX_DELIMITER).length ||
      (x.target < y.target ? -1 : x.target > y.target ? 1 : 0),
  );
  return { folders, skipped };
}
