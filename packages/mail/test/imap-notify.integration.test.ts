import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable } from '@palabre/core/testing';
import { message, startImap, withTwoNodes, type ImapWorld, type RawClient } from './imap-harness.js';

/**
 * RFC 5465 NOTIFY against a listening server: what a client hears without asking, from other sessions
 * and from delivery, and what an attacker's NOTIFY gets.
 */

const SUPPORTED = '(MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)';

async function session(w: ImapWorld, user: 'alice' | 'bob' = 'alice'): Promise<RawClient> {
  const r = await w.raw();
  await r.login(w.users[user]);
  return r;
}

function counts(line: string | null): Record<string, number> {
  const out: Record<string, number> = {};
  const inner = /\(([^()]*)\)$/.exec(line ?? '')?.[1] ?? '';
  const parts = inner.split(' ');
  for (let i = 0; i + 1 < parts.length; i += 2) out[parts[i]!] = Number(parts[i + 1]);
  return out;
}

describe('IMAP NOTIFY (RFC 5465)', () => {
  let w: ImapWorld;
  beforeAll(async () => {
    w = await startImap();
  });
  afterAll(async () => w.close());

  it('is announced after login', async () => {
    const r = await session(w);
    const caps = await r.cmd('c', 'CAPABILITY');
    expect(caps.untagged[0]).toMatch(/ NOTIFY( |$)/);
    r.close();
  });

  it('personal mailboxes: STATUS at SET, then a STATUS pushed between commands for a delivery and an expunge, none for a flag change it did not ask for', async () => {
    const admin = await w.client('bob');
    await admin.mailboxCreate('Dossiers');
    await admin.append('Dossiers', message('ancien'));
    await admin.logout();
    const r = await session(w, 'bob');
    await r.cmd('s', 'SELECT INBOX');
    const set = await r.cmd('n1', 'NOTIFY SET STATUS (personal (MessageNew MessageExpunge))');
    expect(set.tagged).toBe('n1 OK NOTIFY completed');
    // Every personal mailbox but the selected one.
    expect(set.untagged.some((l) => l.startsWith('* STATUS "INBOX"'))).toBe(false);
    const dossiers = set.untagged.find((l) => l.startsWith('* STATUS "Dossiers"'));
    expect(counts(dossiers ?? null)).toMatchObject({ MESSAGES: 1, UNSEEN: 1 });
    const uidNext = counts(dossiers!).UIDNEXT!;

    // No command is running: the server writes on its own.
    await w.deliver(['bob'], message('nouveau'), 'Dossiers');
    const pushed = await r.line();
    expect(pushed).toMatch(/^\* STATUS "Dossiers" \(/);
    expect(counts(pushed)).toEqual({ MESSAGES: 2, UIDNEXT: uidNext + 1, UNSEEN: 2 });

    const other = await w.client('bob');
    await other.mailboxOpen('Dossiers');
    await other.messageFlagsAdd('1', ['\\Seen']);
    await other.messageDelete('2');
    // The \Seen change alone is not reported (no FlagChange asked); the expunge is, with the new counts.
    const next = await r.line();
    expect(counts(next)).toEqual({ MESSAGES: 1, UIDNEXT: uidNext + 1, UNSEEN: 0 });
    await other.logout();
    // The selected mailbox is not reported by STATUS.
    await w.deliver(['bob'], message('dans la boîte'));
    const noop = await r.cmd('n2', 'NOOP');
    expect(noop.untagged.some((l) => l.startsWith('* STATUS'))).toBe(false);
    expect(noop.untagged.some((l) => / EXISTS$/.test(l))).toBe(true);
    r.close();
  });

  it('selected: new messages pushed at once with the fetch attributes asked (never setting \\Seen), expunges too; selected-delayed holds expunges for a command', async () => {
    const c = await w.client('alice');
    await c.mailboxCreate('Courrier');
    await c.logout();
    const r = await session(w);
    await r.cmd('e', 'ENABLE IMAP4rev2');
    await r.cmd('s', 'SELECT Courrier');
    const set = await r.cmd('n1', 'NOTIFY SET (selected (MessageNew (UID BODY[HEADER.FIELDS (SUBJECT)]) MessageExpunge))');
    expect(set.tagged).toBe('n1 OK NOTIFY completed');
    await w.deliver(['alice'], message('urgent'), 'Courrier');
    expect(await r.line()).toBe('* 1 EXISTS');
    const fetched = await r.line();
    expect(fetched).toMatch(/^\* 1 FETCH \(UID 1 BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}\r\nSubject: urgent\r\n\r\n\)$/);
    const flags = await r.cmd('f', 'UID FETCH 1 FLAGS');
    expect(flags.untagged).toEqual(['* 1 FETCH (UID 1 FLAGS ())']);

    const other = await w.client('alice');
    await other.mailboxOpen('Courrier');
    await other.messageDelete('1');
    // The \Deleted flag, then the expunge, with no command from this client.
    expect(await r.line()).toMatch(/^\* 1 FETCH \(UID 1 FLAGS \(\\Deleted\)\)$/);
    expect(await r.line()).toBe('* 1 EXPUNGE');

    await r.cmd('n2', 'NOTIFY SET (selected-delayed (MessageNew MessageExpunge))');
    await other.append('Courrier', message('second'));
    expect(await r.line()).toBe('* 1 EXISTS');
    await other.messageDelete('1');
    expect(await r.line()).toMatch(/^\* 1 FETCH \(UID 2 FLAGS \(\\Deleted\)\)$/);
    // The expunge waits for a command that may carry it.
    const noop = await r.cmd('n3', 'NOOP');
    expect(noop.untagged).toEqual(['* 1 EXPUNGE']);
    await other.logout();
    r.close();
  });

  it('mailbox list: creations, renames (OLDNAME), deletions and subscriptions by another session', async () => {
    const r = await session(w, 'bob');
    await r.cmd('n1', 'NOTIFY SET (personal (MailboxName SubscriptionChange))');
    const other = await session(w, 'bob');
    await other.cmd('o1', 'CREATE Projets');
    expect(await r.line()).toBe('* LIST () "/" "Projets"');
    await other.cmd('o2', 'RENAME Projets Archives');
    expect(await r.line()).toBe('* LIST () "/" "Archives" ("OLDNAME" ("Projets"))');
    await other.cmd('o3', 'SUBSCRIBE Archives');
    expect(await r.line()).toBe('* LIST (\\Subscribed) "/" "Archives"');
    await other.cmd('o4', 'UNSUBSCRIBE Archives');
    expect(await r.line()).toBe('* LIST () "/" "Archives"');
    await other.cmd('o5', 'DELETE Archives');
    expect(await r.line()).toBe('* LIST (\\NonExistent) "/" "Archives"');
    other.close();
    // NOTIFY NONE: nothing more.
    expect((await r.cmd('n2', 'NOTIFY NONE')).tagged).toBe('n2 OK NOTIFY completed');
    const again = await w.client('bob');
    await again.mailboxCreate('Silence');
    await again.logout();
    const noop = await r.cmd('n3', 'NOOP');
    expect(noop.untagged).toEqual([]);
    r.close();
  });

  it('subtree and mailboxes name what is watched; another user\'s mailbox is never reported', async () => {
    const c = await w.client('carol');
    await c.mailboxCreate('Equipe/Plannings');
    await c.mailboxCreate('Autre');
    await c.logout();
    const r = await session(w, 'bob');
    const set = await r.cmd('n1', 'NOTIFY SET STATUS (mailboxes "Equipe/Plannings" (MessageNew MessageExpunge))');
    // Bob has no such mailbox: a name is a name in the caller's namespace, never carol's.
    expect(set.untagged).toEqual([]);
    r.close();
    const carol = await w.raw();
    await carol.login({ ...w.users.carol });
    const mine = await carol.cmd('n1', 'NOTIFY SET STATUS (subtree Equipe (MessageNew MessageExpunge))');
    // The named mailbox and what is below it (Equipe exists: CREATE made the parent).
    expect(mine.untagged.map((l) => l.split(' (')[0]).sort()).toEqual(['* STATUS "Equipe"', '* STATUS "Equipe/Plannings"']);
    await w.deliver(['carol'], message('autre'), 'Autre');
    await w.deliver(['carol'], message('planning'), 'Equipe/Plannings');
    // Only the watched mailbox is reported, although the other delivery came first.
    expect(await carol.line()).toMatch(/^\* STATUS "Equipe\/Plannings" \(MESSAGES 1 /);
    carol.close();
  });

  it('attacked: unsupported events, broken grammar, fetch attributes outside the selected group, floods of names — precise answers, the previous NOTIFY still in force', async () => {
    const pre = await w.raw();
    expect((await pre.cmd('a', 'NOTIFY SET (personal (MessageNew MessageExpunge))')).tagged).toMatch(/^a BAD /);
    pre.close();

    const r = await session(w, 'bob');
    await r.cmd('s', 'SELECT INBOX');
    expect((await r.cmd('ok', 'NOTIFY SET (inboxes (MessageNew MessageExpunge)) (mailboxes Dossiers (MessageNew MessageExpunge))')).tagged).toBe('ok OK NOTIFY completed');
    const hostile: [string, RegExp][] = [
      ['NOTIFY SET (personal (MessageNew MessageExpunge AnnotationChange))', new RegExp(`^h NO \\[BADEVENT ${SUPPORTED.replace(/[()]/g, '\\$&')}\\] Events not supported: AnnotationChange$`)],
      ['NOTIFY SET (personal (QuotaChange MessageNew MessageExpunge))', /^h NO \[BADEVENT /],
      ['NOTIFY SET (personal (MessageNew))', /^h BAD MessageNew and MessageExpunge must be given together$/],
      ['NOTIFY SET (personal (FlagChange))', /^h BAD FlagChange needs MessageNew and MessageExpunge$/],
      ['NOTIFY SET (personal (MessageNew (UID BODY[]) MessageExpunge))', /^h BAD MessageNew fetch attributes are only for the selected mailbox$/],
      ['NOTIFY SET (selected (MessageNew MessageExpunge)) (selected-delayed (MessageNew MessageExpunge))', /^h BAD The selected mailbox is named twice$/],
      ['NOTIFY SET (everything (MessageNew MessageExpunge))', /^h BAD Unknown mailbox filter$/],
      ['NOTIFY SET', /^h BAD /],
      ['NOTIFY SET ()', /^h BAD /],
      ['NOTIFY SET (personal ())', /^h BAD /],
      ['NOTIFY SET (personal (MessageNew MessageExpunge)', /^h BAD /],
      ['NOTIFY SET (personal (MessageNew MessageExpunge)) trailing', /^h BAD /],
      ['NOTIFY MAYBE', /^h BAD NOTIFY takes SET or NONE$/],
      ['NOTIFY NONE extra', /^h BAD /],
      [`NOTIFY SET (mailboxes (${Array.from({ length: 101 }, (_, i) => `m${i}`).join(' ')}) (MessageNew MessageExpunge))`, /^h BAD Too many mailbox names$/],
      [`NOTIFY SET ${Array.from({ length: 51 }, () => '(personal (MessageNew MessageExpunge))').join(' ')}`, /^h BAD Too many event groups$/],
      [`NOTIFY SET (selected (MessageNew (${'UID '.repeat(120).trim()}) MessageExpunge))`, /^h BAD Too many fetch items$/],
    ];
    for (const [command, expected] of hostile) {
      const answer = await r.cmd('h', command);
      expect(answer.tagged, command.slice(0, 80)).toMatch(expected);
      expect(answer.untagged, command.slice(0, 80)).toEqual([]);
    }
    // Still the one set before the attack: a delivery into Dossiers is reported.
    await w.deliver(['bob'], message('après'), 'Dossiers');
    expect(await r.line()).toMatch(/^\* STATUS "Dossiers" \(MESSAGES \d+ UIDNEXT \d+ UNSEEN \d+\)$/);
    // A thousand SETs in a row leave one set of watches behind, not a thousand.
    for (let i = 0; i < 200; i++) r.write(`x${i} NOTIFY SET (personal (MessageNew MessageExpunge MailboxName))\r\n`);
    expect((await r.until('x199', 30_000)).tagged).toBe('x199 OK NOTIFY completed');
    await w.deliver(['bob'], message('encore'), 'Dossiers');
    const statuses: string[] = [];
    const done = r.cmd('last', 'NOTIFY NONE');
    const answer = await done;
    for (const l of answer.untagged) if (l.startsWith('* STATUS')) statuses.push(l);
    // Reported once at most (before NONE), never once per earlier SET.
    expect(statuses.length).toBeLessThanOrEqual(1);
    expect((await r.cmd('alive', 'NOOP')).tagged).toBe('alive OK NOOP completed');
    r.close();
  });
});

describe.runIf(await postgresAvailable())('IMAP NOTIFY across two nodes on PostgreSQL', () => {
  it('a mailbox created and a message delivered on node A are reported to a NOTIFY session on node B', async () => {
    await withTwoNodes(async (a, b) => {
      const listener = await b.raw();
      await listener.login(b.users.alice);
      expect((await listener.cmd('n', 'NOTIFY SET (personal (MessageNew MessageExpunge MailboxName))')).tagged).toBe('n OK NOTIFY completed');
      const writer = await a.raw();
      await writer.login(a.users.alice);
      await writer.cmd('c', 'CREATE Rapports');
      expect(await listener.line()).toBe('* LIST () "/" "Rapports"');
      await a.deliver(['alice'], message('rapport'), 'Rapports');
      expect(await listener.line()).toMatch(/^\* STATUS "Rapports" \(MESSAGES 1 UIDNEXT 2 UNSEEN 1\)$/);
      writer.close();
      listener.close();
    });
  });
});
