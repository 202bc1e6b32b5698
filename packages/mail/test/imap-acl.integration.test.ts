import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { message, startImap, type ImapWorld, type RawClient } from './imap-harness.js';

const ALICE_INBOX = '"Shared/alice@sante.gouv.tg/INBOX"';
const SECRETARIAT = '"Shared/secretariat@sante.gouv.tg/INBOX"';

describe('IMAP access control, from the attacker side', () => {
  let w: ImapWorld;
  let bob: RawClient;
  beforeAll(async () => {
    w = await startImap();
    const alice = await w.client('alice');
    await alice.mailboxCreate('Private');
    await alice.append('INBOX', message('alice secret one'));
    await alice.append('Private', message('alice secret two'));
    await alice.logout();
    await w.deliver(['secretariat'], message('to the secretariat 1'));
    await w.deliver(['secretariat'], message('to the secretariat 2'));
    bob = await w.raw();
    await bob.login(w.users.bob);
  });
  afterAll(async () => w.close());

  it("user B cannot see, open, read, write, expunge, rename, delete or administer user A's mailboxes", async () => {
    const nonexistent = /NO \[NONEXISTENT\]/;
    for (const [i, cmd] of [
      `SELECT ${ALICE_INBOX}`,
      `EXAMINE ${ALICE_INBOX}`,
      `STATUS ${ALICE_INBOX} (MESSAGES)`,
      `DELETE "Shared/alice@sante.gouv.tg/Private"`,
      `RENAME ${ALICE_INBOX} "Stolen"`,
      `GETACL ${ALICE_INBOX}`,
      `SETACL ${ALICE_INBOX} bob@sante.gouv.tg lrswipkxtea`,
      `MYRIGHTS ${ALICE_INBOX}`,
      `GETQUOTAROOT ${ALICE_INBOX}`,
      `APPEND ${ALICE_INBOX} {5+}\r\nhello`,
      `SUBSCRIBE ${ALICE_INBOX}`,
    ].entries()) {
      expect((await bob.cmd(`x${i}`, cmd)).tagged, cmd).toMatch(nonexistent);
    }
    // Indistinguishable from a mailbox that does not exist at all.
    expect((await bob.cmd('y', 'SELECT "Shared/alice@sante.gouv.tg/No such box"')).tagged).toMatch(nonexistent);
    const list = await bob.cmd('l', 'LIST "" "*"');
    expect(list.untagged.join('\n')).not.toContain('alice');
    expect((await bob.cmd('l2', 'LIST "" "Shared/*"')).untagged).toEqual([]);
    // Copying into it is refused too; nothing arrived.
    await bob.cmd('s', 'SELECT INBOX');
    await w.deliver(['bob'], message('bob own'));
    await bob.cmd('n', 'NOOP');
    expect((await bob.cmd('c', `COPY 1 ${ALICE_INBOX}`)).tagged).toMatch(nonexistent);
    expect((await bob.cmd('m', `MOVE 1 ${ALICE_INBOX}`)).tagged).toMatch(nonexistent);
    expect((await bob.cmd('k', 'CREATE "Shared/alice@sante.gouv.tg/Planted"')).tagged).toMatch(/NO \[NOPERM\]/);
    const inbox = (await w.store.getMailbox(w.users.alice.id, 'INBOX'))!;
    expect((await w.store.counts(inbox.id, w.users.alice.id)).messages).toBe(1);
    expect(await w.store.getMailbox(w.users.alice.id, 'Planted')).toBeNull();
    expect(await w.store.getAcl(inbox.id)).toEqual([]);
  });

  it("read-only sharing (lr): B reads but cannot flag, expunge, append, copy in, move out or share on", async () => {
    const owner = await w.raw();
    await owner.login(w.users.alice);
    await owner.cmd('a', 'SETACL INBOX bob@sante.gouv.tg lr');
    const list = await bob.cmd('l', 'LIST "" "Shared/*"');
    expect(list.untagged).toContain('* LIST (\\Noselect \\HasChildren) "/" "Shared/alice@sante.gouv.tg"');
    expect(list.untagged).toContain('* LIST (\\HasNoChildren) "/" "Shared/alice@sante.gouv.tg/INBOX"');
    expect(list.untagged.join('\n')).not.toContain('Private');
    const sel = await bob.cmd('s', `SELECT ${ALICE_INBOX}`);
    expect(sel.tagged).toBe('s OK [READ-ONLY] SELECT completed');
    expect((await bob.cmd('f', 'FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])')).untagged[0]).toContain('alice secret one');
    // Reading does not mark it seen (no s right), for anyone.
    await bob.cmd('f2', 'FETCH 1 (BODY[TEXT])');
    expect((await bob.cmd('st', 'STORE 1 +FLAGS (\\Seen)')).tagged).toMatch(/NO \[READ-ONLY\]/);
    expect((await bob.cmd('ex', 'EXPUNGE')).tagged).toMatch(/NO \[READ-ONLY\]/);
    expect((await bob.cmd('mv', 'MOVE 1 INBOX')).tagged).toMatch(/NO \[READ-ONLY\]/);
    expect((await bob.cmd('ap', `APPEND ${ALICE_INBOX} {5+}\r\nhello`)).tagged).toMatch(/NO \[NOPERM\]/);
    expect((await bob.cmd('sa', `SETACL ${ALICE_INBOX} carol@sante.gouv.tg lr`)).tagged).toMatch(/NO \[NOPERM\]/);
    expect((await bob.cmd('de', `DELETE ${ALICE_INBOX}`)).tagged).toMatch(/NO \[NOPERM\]/);
    expect((await bob.cmd('my', `MYRIGHTS ${ALICE_INBOX}`)).untagged[0]).toBe(`* MYRIGHTS ${ALICE_INBOX} lr`);
    const inbox = (await w.store.getMailbox(w.users.alice.id, 'INBOX'))!;
    expect((await w.store.counts(inbox.id, w.users.alice.id)).unseen).toBe(1);
    await bob.cmd('u', 'UNSELECT');
    // Revoked: gone again, at the next SELECT.
    await owner.cmd('b', 'DELETEACL INBOX bob@sante.gouv.tg');
    expect((await bob.cmd('s2', `SELECT ${ALICE_INBOX}`)).tagged).toMatch(/NO \[NONEXISTENT\]/);
  });

  it('a lookup-only right (l) lists the mailbox but does not open it', async () => {
    const owner = await w.raw();
    await owner.login(w.users.alice);
    await owner.cmd('a', 'SETACL Private bob@sante.gouv.tg l');
    expect((await bob.cmd('l', 'LIST "" "Shared/alice@sante.gouv.tg/*"')).untagged).toContain('* LIST (\\HasNoChildren) "/" "Shared/alice@sante.gouv.tg/Private"');
    expect((await bob.cmd('s', 'SELECT "Shared/alice@sante.gouv.tg/Private"')).tagged).toMatch(/NO \[NOPERM\]/);
    expect((await bob.cmd('t', 'STATUS "Shared/alice@sante.gouv.tg/Private" (MESSAGES)')).tagged).toMatch(/NO \[NOPERM\]/);
    await owner.cmd('b', 'DELETEACL Private bob@sante.gouv.tg');
  });

  it('a functional mailbox shared with a directory group: members work it with per-user \\Seen; others cannot', async () => {
    const sec = await w.raw();
    await sec.login(w.users.secretariat);
    expect((await sec.cmd('a', 'SETACL INBOX group:staff lrsite')).status).toBe('OK');
    const carol = await w.raw();
    await carol.login(w.users.carol);
    const list = await carol.cmd('l', 'LIST "" "Shared/*" RETURN (STATUS (MESSAGES UNSEEN))');
    expect(list.untagged).toContain(`* STATUS ${SECRETARIAT} (MESSAGES 2 UNSEEN 2)`);
    expect((await carol.cmd('s', `SELECT ${SECRETARIAT}`)).tagged).toBe('s OK [READ-WRITE] SELECT completed');
    await carol.cmd('r', 'FETCH 1 (BODY[TEXT])');
    expect((await carol.cmd('f', 'FETCH 1:2 FLAGS')).untagged).toEqual(['* 1 FETCH (FLAGS (\\Seen \\Recent))', '* 2 FETCH (FLAGS (\\Recent))']);
    // The owner and other members keep their own \Seen.
    const ownSeen = await sec.cmd('st', 'STATUS INBOX (UNSEEN)');
    expect(ownSeen.untagged[0]).toBe('* STATUS "INBOX" (UNSEEN 2)');
    // bob is not in the group: nothing.
    expect((await bob.cmd('b', `SELECT ${SECRETARIAT}`)).tagged).toMatch(/NO \[NONEXISTENT\]/);
    // carol may expunge (t + e) but not write keywords (no w) or administer (no a).
    expect((await carol.cmd('k', 'STORE 2 +FLAGS ($Traite)')).tagged).toMatch(/NO \[NOPERM\]/);
    expect((await carol.cmd('sa', `SETACL ${SECRETARIAT} bob@sante.gouv.tg lr`)).tagged).toMatch(/NO \[NOPERM\]/);
    await carol.cmd('d', 'STORE 2 +FLAGS.SILENT (\\Deleted)');
    expect((await carol.cmd('e', 'EXPUNGE')).untagged).toEqual(['* 2 EXPUNGE']);
    // Appending into the shared mailbox needs i: carol has it; her \Seen stays hers.
    const appended = await carol.cmd('ap', `APPEND ${SECRETARIAT} (\\Seen) {26+}\r\nSubject: reply draft\r\n\r\nok`);
    expect(appended.tagged).toMatch(/^ap OK \[APPENDUID/);
    expect((await sec.cmd('st2', 'STATUS INBOX (MESSAGES UNSEEN)')).untagged[0]).toBe('* STATUS "INBOX" (MESSAGES 2 UNSEEN 2)');
  });

  it('under Shared/<other>/ every command answers the same whether the account or the folder exists (RFC 4314 §6)', async () => {
    const owner = await w.raw();
    await owner.login(w.users.alice);
    await owner.cmd('c', 'CREATE "Secret/Inner"');
    const before = (await w.store.listMailboxes(w.users.alice.id)).map((m) => m.name).sort();
    const probe = await w.raw();
    await probe.login(w.users.bob);
    await probe.cmd('b', 'CREATE BobBox');
    await w.deliver(['bob'], message('bob probe'));
    // Names that exist, names that do not, under an account that exists and under one that does not.
    const groups = [
      ['Shared/alice@sante.gouv.tg/Secret', 'Shared/alice@sante.gouv.tg/No such folder', 'Shared/nobody@sante.gouv.tg/Secret', 'Shared/alice@sante.gouv.tg/INBOX', 'Shared/nobody@sante.gouv.tg/INBOX'],
      ['Shared/alice@sante.gouv.tg/Secret/Inner', 'Shared/alice@sante.gouv.tg/Secret/Deeper', 'Shared/alice@sante.gouv.tg/Nothing/Deeper', 'Shared/nobody@sante.gouv.tg/Secret/Inner', 'Shared/alice@sante.gouv.tg/INBOX/Deeper'],
      ['Shared/alice@sante.gouv.tg/Secret//Inner', 'Shared/nobody@sante.gouv.tg/Secret//Inner'],
    ];
    const commands = [
      (n: string) => `CREATE "${n}"`,
      (n: string) => `CREATE "${n}/"`,
      (n: string) => `CREATE "${n}" (USE (\\Drafts))`,
      (n: string) => `DELETE "${n}"`,
      (n: string) => `RENAME "${n}" "Stolen"`,
      (n: string) => `RENAME BobBox "${n}"`,
      (n: string) => `RENAME BobBox "${n}/Planted"`,
      (n: string) => `SELECT "${n}"`,
      (n: string) => `EXAMINE "${n}"`,
      (n: string) => `STATUS "${n}" (MESSAGES UIDNEXT)`,
      (n: string) => `GETACL "${n}"`,
      (n: string) => `SETACL "${n}" bob@sante.gouv.tg lrswipkxtea`,
      (n: string) => `DELETEACL "${n}" bob@sante.gouv.tg`,
      (n: string) => `MYRIGHTS "${n}"`,
      (n: string) => `LISTRIGHTS "${n}" bob@sante.gouv.tg`,
      (n: string) => `GETQUOTAROOT "${n}"`,
      (n: string) => `SUBSCRIBE "${n}"`,
      (n: string) => `LIST "" "${n}"`,
      (n: string) => `LIST "" "${n}/*"`,
      (n: string) => `APPEND "${n}" {5+}\r\nhello`,
      (n: string) => `COPY 1 "${n}"`,
      (n: string) => `MOVE 1 "${n}"`,
    ];
    let i = 0;
    for (const names of groups) {
      for (const command of commands) {
        const answers = new Map<string, string>();
        for (const name of names) {
          // A failed SELECT leaves nothing selected: COPY and MOVE start from bob's own INBOX each time.
          await probe.cmd(`s${i}`, 'SELECT INBOX');
          const r = await probe.cmd(`t${++i}`, command(name));
          const answer = [...r.untagged.filter((l) => !/^\* (\d+ EXISTS|\d+ RECENT|FLAGS|OK \[)/.test(l)), r.tagged!.replace(/^t\d+ /, '')].join('\n');
          answers.set(answer, command(name));
        }
        expect.soft([...answers.keys()], `${command('<name>')}: ${[...answers.values()].join(' / ')}`).toHaveLength(1);
        expect([...answers.keys()][0]).toMatch(/^(NO|BAD|OK (LIST|SUBSCRIBE) completed)/m);
      }
    }
    // Nothing was created, renamed, shared or filed in alice's account.
    expect((await w.store.listMailboxes(w.users.alice.id)).map((m) => m.name).sort()).toEqual(before);
    for (const m of await w.store.listMailboxes(w.users.alice.id)) expect(await w.store.getAcl(m.id), m.name).toEqual([]);
    expect(await w.directory.findAccount('nobody@sante.gouv.tg')).toBeNull();
    // With k on the parent, creating works (and, as in any server, tells which names are taken).
    await owner.cmd('k', 'SETACL Secret carol@sante.gouv.tg lk');
    const carol = await w.raw();
    await carol.login(w.users.carol);
    expect((await carol.cmd('c1', 'CREATE "Shared/alice@sante.gouv.tg/Secret/From carol"')).tagged).toBe('c1 OK CREATE completed');
    expect((await carol.cmd('c2', 'CREATE "Shared/alice@sante.gouv.tg/Secret/Inner"')).tagged).toMatch(/^c2 NO \[ALREADYEXISTS\]/);
    expect((await carol.cmd('c3', 'CREATE "Shared/alice@sante.gouv.tg/Elsewhere"')).tagged).toBe('c3 NO [NOPERM] Permission denied');
    await owner.cmd('d0', 'DELETE "Secret/From carol"');
    await owner.cmd('d1', 'DELETEACL Secret carol@sante.gouv.tg');
    await owner.cmd('d', 'DELETE "Secret/Inner"');
    await owner.cmd('d2', 'DELETE "Secret"');
  });

  it('names that try to escape the namespace resolve to nothing or to the user\'s own mailboxes', async () => {
    for (const [i, name] of ['"Shared"', '"Shared/alice@sante.gouv.tg"', '"shared/ALICE@SANTE.GOUV.TG/INBOX"', '"Shared/nobody@nowhere.test/INBOX"', '"Shared/../INBOX"'].entries()) {
      const r = await bob.cmd(`e${i}`, `SELECT ${name}`);
      expect(r.tagged, name).toMatch(/NO \[NONEXISTENT\]/);
    }
    // The user's own address under Shared/ is just their own mailbox.
    expect((await bob.cmd('own', 'EXAMINE "Shared/bob@sante.gouv.tg/INBOX"')).tagged).toMatch(/OK \[READ-ONLY\]/);
  });
});
