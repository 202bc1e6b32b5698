import { foldSearchText } from '@palabre/core';
import type { EnvelopeAddress } from '../mime/addresses.js';

/**
 * RFC 5256 SORT and THREAD over messages already found by SEARCH: the base subject, the sort keys,
 * and the ORDEREDSUBJECT and REFERENCES threading algorithms. Pure functions: the command reads the
 * rows, this decides the order.
 */

/** What sorting and threading read of one message. */
export interface SortableMessage {
  /** What the answer names: the sequence number (SORT) or the UID (UID SORT). */
  readonly id: number;
  /** Ties are broken by sequence number, whatever the answer names. */
  readonly seq: number;
  readonly size: number;
  /** Internal date, ms. */
  readonly arrival: number;
  /** The Date header as an instant (RFC 5256 §2.2: in UTC); the internal date when it has none. */
  readonly sent: number;
  /** The Subject, encoded words decoded. */
  readonly subject: string;
  readonly from: EnvelopeAddress | null;
  readonly to: EnvelopeAddress | null;
  readonly cc: EnvelopeAddress | null;
  readonly messageId: string | null;
  /** References' message ids in order; or the first of In-Reply-To when there is no References. */
  readonly references: readonly string[];
}

// ------------------------------------------------------------------ base subject (§2.1)

const isBlank = (c: string | undefined) => c === ' ' || c === '\t';

/** The end of a subj-blob (`[` *BLOBCHAR `]` *WSP) starting at `i`, or -1. */
function blobEnd(s: string, i: number, end: number): number {
  if (s[i] !== '[') return -1;
  let j = i + 1;
  while (j < end && s[j] !== ']' && s[j] !== '[') j++;
  if (s[j] !== ']' || j >= end) return -1;
  j++;
  while (j < end && isBlank(s[j])) j++;
  return j;
}

/** The end of a subj-refwd (`re` / `fw` / `fwd`, *WSP, [subj-blob], `:`) starting at `i`, or -1. */
function refwdEnd(s: string, i: number, end: number): number {
  const word = s.slice(i, i + 3).toLowerCase();
  let j = word.startsWith('re') ? i + 2 : word === 'fwd' ? i + 3 : word.startsWith('fw') ? i + 2 : -1;
  if (j < 0) return -1;
  while (j < end && isBlank(s[j])) j++;
  const blob = blobEnd(s, j, end);
  if (blob >= 0) j = blob;
  return s[j] === ':' && j < end ? j + 1 : -1;
}

/**
 * The base subject and whether the subject marked a reply or forward (used by REFERENCES §5 step 5).
 * Positions move forward only, so the cost stays linear in the subject whatever it holds.
 */
export function baseSubject(decoded: string): { base: string; reply: boolean } {
  // (1) runs of blanks become one space.
  const s = decoded.replace(/[\t\r\n ]+/g, ' ');
  let i = 0;
  let end = s.length;
  let reply = false;
  for (;;) {
    // (2) trailing "(fwd)" and blanks.
    for (;;) {
      while (end > i && isBlank(s[end - 1])) end--;
      if (end - i >= 5 && s.slice(end - 5, end).toLowerCase() === '(fwd)') {
        end -= 5;
        reply = true;
      } else break;
    }
    // (3)-(5) leading blanks, "Re:"/"Fw:"/"Fwd:" after any blobs, and blobs whose removal leaves something.
    for (;;) {
      while (i < end && isBlank(s[i])) i++;
      const blobs = [i];
      for (let b = blobEnd(s, i, end); b >= 0; b = blobEnd(s, b, end)) blobs.push(b);
      const last = blobs[blobs.length - 1]!;
      const refwd = refwdEnd(s, last, end);
      if (refwd >= 0) {
        i = refwd;
        reply = true;
        continue;
      }
      // No "Re:" after the blobs: they go, but the last one stays if nothing would be left.
      const next = last < end ? last : blobs.length > 1 ? blobs[blobs.length - 2]! : i;
      if (next === i) break;
      i = next;
    }
    // (6) "[fwd: ...]" around the whole subject: unwrap and start again.
    if (end - i >= 6 && s.slice(i, i + 5).toLowerCase() === '[fwd:' && s[end - 1] === ']') {
      i += 5;
      end -= 1;
      reply = true;
      continue;
    }
    break;
  }
  return { base: foldSearchText(s.slice(i, end)), reply };
}

// ------------------------------------------------------------------ SORT (§3)

export const SORT_KEYS = ['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export interface SortCriterion {
  readonly key: SortKey;
  readonly reverse: boolean;
}

/** RFC 5256: the addr-mailbox (local part) of the first address, compared case-insensitively. */
const mailboxKey = (a: EnvelopeAddress | null): string => foldSearchText(a?.mailbox ?? '');
/** RFC 5957 DISPLAY: the display name, or the address when there is none. */
const displayKey = (a: EnvelopeAddress | null): string => {
  if (!a) return '';
  const name = a.name?.trim();
  return foldSearchText(name ? name : a.mailbox && a.host ? `${a.mailbox}@${a.host}` : (a.mailbox ?? ''));
};

function keyOf(m: SortableMessage, key: SortKey, subjects: Map<SortableMessage, string>): string | number {
  switch (key) {
    case 'ARRIVAL':
      return m.arrival;
    case 'DATE':
      return m.sent;
    case 'SIZE':
      return m.size;
    case 'FROM':
      return mailboxKey(m.from);
    case 'TO':
      return mailboxKey(m.to);
    case 'CC':
      return mailboxKey(m.cc);
    case 'DISPLAYFROM':
      return displayKey(m.from);
    case 'DISPLAYTO':
      return displayKey(m.to);
    case 'SUBJECT': {
      let base = subjects.get(m);
      if (base === undefined) subjects.set(m, (base = baseSubject(m.subject).base));
      return base;
    }
  }
}

const compare = (a: string | number, b: string | number): number => (a < b ? -1 : a > b ? 1 : 0);

/** The messages in the order of the criteria; equal keys fall back to sequence order (§3). */
export function sortMessages(messages: readonly SortableMessage[], criteria: readonly SortCriterion[]): SortableMessage[] {
  const subjects = new Map<SortableMessage, string>();
  const keyed = messages.map((m) => ({ m, keys: criteria.map((c) => keyOf(m, c.key, subjects)) }));
  keyed.sort((x, y) => {
    for (let i = 0; i < criteria.length; i++) {
      const d = compare(x.keys[i]!, y.keys[i]!);
      if (d !== 0) return criteria[i]!.reverse ? -d : d;
    }
    return x.m.seq - y.m.seq;
  });
  return keyed.map((k) => k.m);
}

// ------------------------------------------------------------------ THREAD (§4, §5)

/** A thread tree node; `message` null is a dummy (a referenced message that is not in the set). */
export interface ThreadNode {
  message: SortableMessage | null;
  parent: ThreadNode | null;
  children: ThreadNode[];
}

const bySent = (a: SortableMessage, b: SortableMessage) => a.sent - b.sent || a.seq - b.seq;

/** The date a node sorts by: its message's, or a dummy's first child's (§4 step 4). */
function nodeDate(n: ThreadNode): SortableMessage | null {
  let cur: ThreadNode | undefined = n;
  while (cur && !cur.message) cur = cur.children[0];
  return cur?.message ?? null;
}
const nodeOrder = (a: ThreadNode, b: ThreadNode): number => {
  const x = nodeDate(a);
  const y = nodeDate(b);
  return x && y ? bySent(x, y) : x ? -1 : y ? 1 : 0;
};

/**
 * ORDEREDSUBJECT (§4): messages grouped by base subject, each group in sent-date order, the first the
 * parent of all the others; the groups in the order of their first message.
 */
export function threadOrderedSubject(messages: readonly SortableMessage[]): ThreadNode[] {
  const sorted = sortMessages(messages, [
    { key: 'SUBJECT', reverse: false },
    { key: 'DATE', reverse: false },
  ]);
  const roots: ThreadNode[] = [];
  let current: ThreadNode | null = null;
  let currentBase: string | null = null;
  for (const m of sorted) {
    const base = baseSubject(m.subject).base;
    const node: ThreadNode = { message: m, parent: null, children: [] };
    if (current && base === currentBase) {
      node.parent = current;
      current.children.push(node);
    } else {
      roots.push(node);
      current = node;
      currentBase = base;
    }
  }
  return roots.sort(nodeOrder);
}

/** Where hostile References stop costing: a few hundred ids is more than any real thread. */
const MAX_REFERENCES = 256;

const isAncestor = (candidate: ThreadNode, of: ThreadNode): boolean => {
  // A node without children is nobody's ancestor: the common case, answered without a walk.
  if (candidate.children.length === 0) return candidate === of;
  for (let p: ThreadNode | null = of; p; p = p.parent) if (p === candidate) return true;
  return false;
};
function link(parent: ThreadNode, child: ThreadNode): void {
  if (child.parent) child.parent.children.splice(child.parent.children.indexOf(child), 1);
  child.parent = parent;
  parent.children.push(child);
}

/** REFERENCES (§5, after Jamie Zawinski's algorithm): threads from Message-ID, References and In-Reply-To. */
export function threadReferences(messages: readonly SortableMessage[]): ThreadNode[] {
  const byId = new Map<string, ThreadNode>();
  const all: ThreadNode[] = [];
  const container = (id: string): ThreadNode => {
    let n = byId.get(id);
    if (!n) {
      n = { message: null, parent: null, children: [] };
      byId.set(id, n);
      all.push(n);
    }
    return n;
  };
  // (1) containers and links, in sequence order. A duplicate Message-ID gets a container of its own.
  for (const m of [...messages].sort((a, b) => a.seq - b.seq)) {
    let own: ThreadNode;
    const existing = m.messageId ? byId.get(m.messageId) : undefined;
    if (m.messageId && (!existing || !existing.message)) {
      own = container(m.messageId);
      own.message = m;
    } else {
      own = { message: m, parent: null, children: [] };
      all.push(own);
    }
    const refs = m.references.slice(-MAX_REFERENCES);
    // (A) each reference the parent of the next, unless a link exists already or would make a loop.
    let previous: ThreadNode | null = null;
    for (const id of refs) {
      const n = container(id);
      if (previous && n !== previous && !n.parent && !isAncestor(n, previous)) link(previous, n);
      previous = n;
    }
    // (B) the message under its last reference (a truncated References may have put it elsewhere).
    if (previous && previous !== own && !isAncestor(own, previous)) link(previous, own);
  }
  // (2) the root set; (3) dummies pruned.
  let roots = prune(all.filter((n) => !n.parent));
  // (4) roots by date.
  roots.sort(nodeOrder);
  // (5) roots gathered by base subject.
  roots = gatherBySubject(roots);
  // (6) every set of siblings by date: children first, so that a dummy root dates from its first child.
  const stack = [...roots];
  while (stack.length) {
    const n = stack.pop()!;
    n.children.sort(nodeOrder);
    stack.push(...n.children);
  }
  roots.sort(nodeOrder);
  return roots;
}

/**
 * §5 step 3: a dummy without children goes; a dummy with children is replaced by them, except at the
 * root when it has several (it then holds them together as one thread).
 */
function prune(roots: ThreadNode[]): ThreadNode[] {
  // Children before parents, without recursion (a reply chain may be thousands deep).
  const order: ThreadNode[] = [];
  const stack = [...roots];
  while (stack.length) {
    const n = stack.pop()!;
    order.push(n);
    stack.push(...n.children);
  }
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i]!;
    const kept: ThreadNode[] = [];
    for (const c of n.children) {
      if (c.message) kept.push(c);
      else
        for (const g of c.children) {
          g.parent = n;
          kept.push(g);
        }
    }
    n.children = kept;
  }
  const out: ThreadNode[] = [];
  for (const r of roots) {
    if (r.message || r.children.length > 1) out.push(r);
    else if (r.children.length === 1) {
      const only = r.children[0]!;
      only.parent = null;
      out.push(only);
    }
  }
  return out;
}

function subjectOfNode(n: ThreadNode): { base: string; reply: boolean } | null {
  const m = n.message ?? n.children[0]?.message ?? null;
  return m ? baseSubject(m.subject) : null;
}

/** §5 step 5: roots with one base subject become one thread. */
function gatherBySubject(roots: ThreadNode[]): ThreadNode[] {
  const table = new Map<string, ThreadNode>();
  for (const r of roots) {
    const s = subjectOfNode(r);
    if (!s || s.base === '') continue;
    const held = table.get(s.base);
    if (!held) table.set(s.base, r);
    else if ((!r.message && held.message) || (held.message && subjectOfNode(held)!.reply && !s.reply)) table.set(s.base, r);
  }
  const out: ThreadNode[] = [];
  /** `next` takes `previous`'s place in the answer (or its own, if `previous` is not there yet). */
  const takePlace = (previous: ThreadNode, next: ThreadNode, base: string) => {
    const at = out.indexOf(previous);
    if (at >= 0) out[at] = next;
    else out.push(next);
    table.set(base, next);
  };
  for (const r of roots) {
    if (r.parent) continue; // already merged under an earlier root
    const s = subjectOfNode(r);
    const held = s && s.base !== '' ? table.get(s.base) : undefined;
    if (!held || held === r) {
      out.push(r);
      continue;
    }
    if (!held.message && !r.message) {
      for (const c of [...r.children]) link(held, c);
    } else if (!held.message) {
      link(held, r);
    } else if (!r.message) {
      link(r, held);
      takePlace(held, r, s!.base);
    } else if (s!.reply && !subjectOfNode(held)!.reply) {
      link(held, r);
    } else {
      const dummy: ThreadNode = { message: null, parent: null, children: [] };
      link(dummy, held);
      link(dummy, r);
      takePlace(held, dummy, s!.base);
    }
  }
  return out;
}

/**
 * The THREAD response's thread list (RFC 5256 §4): `(1 2 3)` is a chain, `(1 (2)(3))` a message with
 * two replies, `((1)(2))` a dummy holding two. Chains are written without recursion.
 */
export function formatThreads(roots: readonly ThreadNode[]): string {
  const out: string[] = [];
  const write = (start: ThreadNode): void => {
    let n: ThreadNode | undefined = start;
    let first = true;
    while (n) {
      if (n.message) {
        out.push(first ? '' : ' ', String(n.message.id));
        first = false;
      }
      if (n.children.length === 1) {
        n = n.children[0];
        continue;
      }
      if (n.children.length > 1) {
        if (!first) out.push(' ');
        for (const c of n.children) {
          out.push('(');
          write(c);
          out.push(')');
        }
      }
      n = undefined;
    }
  };
  for (const r of roots) {
    out.push('(');
    write(r);
    out.push(')');
  }
  return out.join('');
}
