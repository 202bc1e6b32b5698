import { MAILBOX_DELIMITER } from '@palabre/core';
import type { ArgReader } from '../arguments.js';
import { AUTHENTICATED, defineCommand } from '../command.js';
import { SyntaxError } from '../errors.js';
import { combine, hasChildren, patternMatcher, visibleTree, type TreeEntry } from '../mailbox-tree.js';
import type { Session } from '../session.js';
import { parseStatusItems, writeStatus, type StatusItem } from './status.js';

interface ListArgs {
  readonly reference: string;
  readonly patterns: string[];
  readonly select: Set<string>;
  readonly returns: Set<string>;
  readonly status: StatusItem[] | null;
  readonly extended: boolean;
}

const SELECT_OPTIONS = new Set(['SUBSCRIBED', 'REMOTE', 'RECURSIVEMATCH', 'SPECIAL-USE']);

function parseList(r: ArgReader, s: Session): ListArgs {
  r.sp();
  const select = new Set<string>();
  let extended = false;
  if (r.peek() === 0x28) {
    extended = true;
    for (const o of r.list(() => r.atom('selection option').toUpperCase())) {
      if (!SELECT_OPTIONS.has(o)) throw new SyntaxError(`Unknown LIST selection option ${o.slice(0, 20)}`);
      select.add(o);
    }
    // RFC 5258 §3: RECURSIVEMATCH alone, or with only REMOTE (which selects nothing by itself), is BAD.
    if (select.has('RECURSIVEMATCH') && ![...select].some((o) => o !== 'RECURSIVEMATCH' && o !== 'REMOTE')) {
      throw new SyntaxError('RECURSIVEMATCH needs a selection option other than REMOTE');
    }
    r.sp();
  }
  const reference = s.decodeName(r.astringBytes('reference'));
  r.sp();
  const patterns: string[] = [];
  if (r.peek() === 0x28) {
    extended = true;
    patterns.push(...r.list(() => s.decodeName(r.listMailbox()), { allowEmpty: false }));
  } else patterns.push(s.decodeName(r.listMailbox()));
  const returns = new Set<string>();
  let status: StatusItem[] | null = null;
  if (r.maybeSp()) {
    if (r.atom('RETURN').toUpperCase() !== 'RETURN') throw new SyntaxError('Expected RETURN');
    extended = true;
    r.sp();
    r.list(() => {
      const o = r.atom('return option').toUpperCase();
      if (o === 'STATUS') {
        r.sp();
        status = parseStatusItems(r);
      } else if (o === 'SUBSCRIBED' || o === 'CHILDREN' || o === 'SPECIAL-USE') returns.add(o);
      else throw new SyntaxError(`Unknown LIST return option ${o.slice(0, 20)}`);
    });
  }
  r.end();
  return { reference, patterns, select, returns, status, extended };
}

function attributes(entry: TreeEntry | undefined, opts: { children: boolean; subscribed: boolean; nonexistent: boolean }): string[] {
  const attrs: string[] = [];
  if (opts.nonexistent) attrs.push('\\NonExistent');
  else if (!entry?.mailbox) attrs.push('\\Noselect');
  attrs.push(opts.children ? '\\HasChildren' : '\\HasNoChildren');
  if (opts.subscribed) attrs.push('\\Subscribed');
  if (entry?.specialUse) attrs.push(entry.specialUse);
  return attrs;
}

async function list(s: Session, args: ListArgs, lsub: boolean): Promise<void> {
  const verb = lsub ? 'LSUB' : 'LIST';
  if (args.patterns.length === 1 && args.patterns[0] === '' && !args.select.size) {
    // RFC 9051: the delimiter and the root of the reference.
    const root = args.reference.split(MAILBOX_DELIMITER)[0] ?? '';
    await s.untagged(`${verb} (\\Noselect) "${MAILBOX_DELIMITER}" ${s.encodeName(root)}`);
    return;
  }
  const tree = await visibleTree(s);
  const subscriptions = new Set(await s.store.listSubscriptions(s.user.accountId));
  const matchers = args.patterns.map((p) => patternMatcher(combine(args.reference, p)));
  const matches = (name: string) => matchers.some((m) => m(name));
  const bySubscription = lsub || args.select.has('SUBSCRIBED');
  const wantSubscribed = bySubscription || args.returns.has('SUBSCRIBED');
  const lines: { path: string; attrs: string[]; childInfo: boolean; entry: TreeEntry | undefined }[] = [];
  if (bySubscription) {
    const names = new Set([...subscriptions].filter(matches));
    // Ancestors of subscribed names, with whether a subscribed descendant is hidden by the pattern.
    const ancestors = new Map<string, boolean>();
    for (const sub of subscriptions) {
      const parts = sub.split(MAILBOX_DELIMITER);
      for (let i = 1; i < parts.length; i++) {
        const p = parts.slice(0, i).join(MAILBOX_DELIMITER);
        ancestors.set(p, (ancestors.get(p) ?? false) || !matches(sub));
      }
    }
    // RECURSIVEMATCH (RFC 5258 §3; RFC 9051 §6.3.9.6's table): every listed name with a descendant
    // meeting the selection criteria gets CHILDINFO, and matching names that do not meet them are
    // listed for it. LSUB (RFC 3501 §6.3.9): an unsubscribed parent of a subscribed name the pattern
    // does not reach ("%") is listed as \Noselect instead.
    const recursive = args.select.has('RECURSIVEMATCH');
    const parents = new Set<string>();
    for (const [p, hidden] of ancestors) if (matches(p) && !names.has(p) && (recursive || (lsub && hidden))) parents.add(p);
    for (const name of [...names, ...parents].sort()) {
      const entry = tree.get(name);
      const subscribed = names.has(name);
      // LSUB keeps the RFC 3348 child attributes beside \Noselect (clients collapse trees with them).
      const children = hasChildren(tree, name) ? '\\HasChildren' : '\\HasNoChildren';
      const attrs = lsub
        ? [...(!subscribed || !entry?.mailbox ? ['\\Noselect'] : []), children]
        : attributes(entry, { children: hasChildren(tree, name), subscribed: subscribed && wantSubscribed, nonexistent: !entry });
      lines.push({ path: name, attrs, childInfo: recursive && ancestors.has(name), entry });
    }
  } else {
    for (const [path, entry] of [...tree].sort(([a], [b]) => (a === 'INBOX' ? -1 : b === 'INBOX' ? 1 : a < b ? -1 : a > b ? 1 : 0))) {
      if (!matches(path)) continue;
      if (args.select.has('SPECIAL-USE') && !entry.specialUse) continue;
      lines.push({ path, attrs: attributes(entry, { children: hasChildren(tree, path), subscribed: wantSubscribed && subscriptions.has(path), nonexistent: false }), childInfo: false, entry });
    }
  }
  for (const line of lines) {
    const attrs = line.attrs;
    const extra = line.childInfo ? ' ("CHILDINFO" ("SUBSCRIBED"))' : '';
    await s.untagged(`${verb} (${attrs.join(' ')}) "${MAILBOX_DELIMITER}" ${s.encodeName(line.path)}${extra}`);
    if (args.status && line.entry?.mailbox && line.entry.rights.includes('r')) await writeStatus(s, line.entry.mailbox, line.path, args.status);
  }
}

export const listCommand = defineCommand({
  name: 'LIST',
  states: AUTHENTICATED,
  parse: parseList,
  run: (s, args) => list(s, args, false),
});

export const lsubCommand = defineCommand({
  name: 'LSUB',
  states: AUTHENTICATED,
  parse(r, s) {
    r.sp();
    const reference = s.decodeName(r.astringBytes('reference'));
    r.sp();
    const pattern = s.decodeName(r.listMailbox());
    r.end();
    return { reference, patterns: [pattern], select: new Set<string>(), returns: new Set<string>(), status: null, extended: false };
  },
  run: (s, args) => list(s, args, true),
});

/** RFC 2342: personal names at the root, other accounts' shared mailboxes under `Shared/`. */
export const namespaceCommand = defineCommand({
  name: 'NAMESPACE',
  states: AUTHENTICATED,
  parse(r) {
    r.end();
  },
  async run(s) {
    await s.untagged(`NAMESPACE (("" "${MAILBOX_DELIMITER}")) NIL (("Shared${MAILBOX_DELIMITER}" "${MAILBOX_DELIMITER}"))`);
  },
});
