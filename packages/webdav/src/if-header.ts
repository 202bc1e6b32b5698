import { DavError } from './errors.js';

/**
 * The WebDAV If header (RFC 4918 §10.4): untagged or tagged lists of conditions on lock state tokens and
 * entity tags, with Not. Lists are ORed, conditions inside a list ANDed.
 */
export interface IfCondition {
  readonly not: boolean;
  readonly token?: string;
  readonly etag?: string;
}

export interface IfList {
  /** The resource tag (an absolute URI or path) of a tagged list; null for an untagged one. */
  readonly resource: string | null;
  readonly conditions: readonly IfCondition[];
}

export interface ResourceState {
  readonly etag: string | null;
  /** Tokens of the live locks that apply to the resource. */
  readonly tokens: ReadonlySet<string>;
}

const MAX_IF_LENGTH = 16 * 1024;
const MAX_CONDITIONS = 256;

const malformed = (why: string) => new DavError(400, `malformed If header: ${why}`);

export function parseIfHeader(value: string): IfList[] {
  if (value.length > MAX_IF_LENGTH) throw malformed('too long');
  const lists: IfList[] = [];
  let i = 0;
  let tag: string | null = null;
  let tagged: boolean | null = null;
  let count = 0;
  const space = () => {
    while (i < value.length && /\s/.test(value[i]!)) i++;
  };
  const until = (close: string): string => {
    const end = value.indexOf(close, i + 1);
    if (end < 0) throw malformed(`missing "${close}"`);
    const inner = value.slice(i + 1, end);
    i = end + 1;
    return inner;
  };
  for (;;) {
    space();
    if (i >= value.length) break;
    if (value[i] === '<') {
      if (tagged === false) throw malformed('mixes tagged and untagged lists');
      tagged = true;
      tag = until('>').trim();
      space();
      if (value[i] !== '(') throw malformed('a resource tag must be followed by a list');
      continue;
    }
    if (value[i] !== '(') throw malformed('"(" expected');
    if (tagged === null) tagged = false;
    i++;
    const conditions: IfCondition[] = [];
    for (;;) {
      space();
      if (value[i] === ')') {
        i++;
        break;
      }
      let not = false;
      if (/^not\b/i.test(value.slice(i, i + 4)) && !/[A-Za-z0-9]/.test(value[i + 3] ?? '')) {
        not = true;
        i += 3;
        space();
      }
      if (value[i] === '<') {
        const token = until('>').trim();
        if (!token) throw malformed('empty state token');
        conditions.push({ not, token });
      } else if (value[i] === '[') {
        let j = i + 1;
        while (/\s/.test(value[j] ?? '')) j++;
        if (value.startsWith('W/', j)) j += 2;
        if (value[j] === '"') {
          const quote = value.indexOf('"', j + 1);
          if (quote < 0) throw malformed('unterminated entity tag');
          j = quote + 1;
        }
        const close = value.indexOf(']', j);
        if (close < 0) throw malformed('missing "]"');
        const etag = value.slice(i + 1, close).trim();
        i = close + 1;
        if (!etag) throw malformed('empty entity tag');
        conditions.push({ not, etag });
      } else throw malformed('condition expected');
      if (++count > MAX_CONDITIONS) throw malformed('too many conditions');
    }
    if (conditions.length === 0) throw malformed('empty list');
    lists.push({ resource: tagged ? tag : null, conditions });
  }
  if (lists.length === 0) throw malformed('no list');
  return lists;
}

/** Weak comparison of entity tags (W/ prefixes ignored), as the If header's matching rules allow. */
export function etagsMatch(a: string | null, b: string): boolean {
  if (a === null) return false;
  const strip = (e: string) => (e.startsWith('W/') ? e.slice(2) : e);
  return strip(a) === strip(b);
}

/**
 * True when at least one list holds. `stateOf` gives the state of the resource a list names (null: the
 * request-URI).
 */
export async function evaluateIf(lists: readonly IfList[], stateOf: (resource: string | null) => Promise<ResourceState>): Promise<boolean> {
  const cache = new Map<string | null, Promise<ResourceState>>();
  for (const list of lists) {
    let state = cache.get(list.resource);
    if (!state) cache.set(list.resource, (state = stateOf(list.resource)));
    const s = await state;
    const holds = list.conditions.every((c) => {
      const match = c.token !== undefined ? s.tokens.has(c.token) : etagsMatch(s.etag, c.etag!);
      return c.not ? !match : match;
    });
    if (holds) return true;
  }
  return false;
}

/** Lock tokens the client submitted (RFC 4918 §10.4.1): every token in a non-negated condition. */
export function submittedTokens(lists: readonly IfList[]): Set<string> {
  const out = new Set<string>();
  for (const list of lists) for (const c of list.conditions) if (c.token && !c.not) out.add(c.token);
  return out;
}
