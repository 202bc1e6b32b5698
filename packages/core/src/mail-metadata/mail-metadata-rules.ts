import { InvalidInputError } from '../errors.js';
import type { MetadataChange, MetadataDepth, MetadataEntry, MetadataScope } from './mail-metadata-store.js';

/** Entries one scope (a mailbox's or the server's, private to one account or shared) may hold. */
export const MAX_METADATA_ENTRIES = 1000;
/** One value (RFC 5464 METADATA MAXSIZE). */
export const MAX_METADATA_VALUE_BYTES = 64 * 1024;
export const MAX_METADATA_NAME = 256;

// RFC 5464 §3.2: no `*` or `%`, no empty component (`//`, trailing `/`); we also refuse `.`/`..`
// components, controls and non-ASCII, so a name is never a path a client could misread.
const COMPONENT = /^[\x21-\x7e]+$/;

/** A valid entry name, lower-cased; InvalidInputError otherwise. */
export function checkEntryName(name: string): string {
  if (name.length > MAX_METADATA_NAME) throw new InvalidInputError('metadata entry name too long');
  const lower = name.toLowerCase();
  const parts = lower.split('/');
  if (parts[0] !== '' || (parts[1] !== 'private' && parts[1] !== 'shared') || parts.length < 3) throw new InvalidInputError('metadata entry names start with /private/ or /shared/');
  for (const part of parts.slice(2)) {
    if (!part || part === '.' || part === '..' || !COMPONENT.test(part) || part.includes('*') || part.includes('%')) throw new InvalidInputError('invalid metadata entry name');
  }
  return lower;
}

/** Whose entry a name is in a scope: the account's for `/private/…`, null (everyone's) for `/shared/…`. */
export function ownerOf(name: string, scope: MetadataScope): string | null {
  return name.startsWith('/private/') ? scope.accountId : null;
}

/** Names and values checked. */
export function checkChanges(changes: readonly MetadataChange[]): MetadataChange[] {
  return changes.map((c) => {
    const name = checkEntryName(c.name);
    if (c.value !== null && Buffer.byteLength(c.value) > MAX_METADATA_VALUE_BYTES) throw new InvalidInputError('metadata value too large');
    return { name, value: c.value };
  });
}

/** Entries of `all` that `name` at `depth` asks for, in name order. */
export function entriesAt(all: Iterable<MetadataEntry>, name: string, depth: MetadataDepth): MetadataEntry[] {
  const prefix = `${name}/`;
  const out: MetadataEntry[] = [];
  for (const e of all) {
    if (e.name === name) out.push(e);
    else if (depth !== '0' && e.name.startsWith(prefix) && (depth === 'infinity' || !e.name.slice(prefix.length).includes('/'))) out.push(e);
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
