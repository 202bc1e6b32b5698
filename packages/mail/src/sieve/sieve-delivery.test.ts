import { describe, expect, it } from 'vitest';
import { fixedClock, MemoryBlobStore, MemoryDirectoryStore, MemoryOutboundQueue, MemorySieveScriptStore, MemoryVacationStore } from '@palabre/core/testing';
import { mimeEntity, VacationResponder } from '../delivery/vacation-responder.js';
import { Outbox } from '../outbound/outbox.js';
import { HeaderSection } from '../mime/header-section.js';
import { MAX_REDIRECT_HOPS, MAX_REDIRECT_RECEIVED, REDIRECT_MARK, SieveDelivery, type SieveMessageInput } from './sieve-delivery.js';

async function setup(script: string | null, domainScript?: string) {
  const clock = fixedClock('2026-12-07T10:00:00Z');
  const directory = new MemoryDirectoryStore();
  const domain = await directory.createDomain({ name: 'interieur.gouv.test' });
  const account = await directory.createAccount({ address: 'agent@interieur.gouv.test' });
  const scripts = new MemorySieveScriptStore();
  if (script !== null) {
    await scripts.put(account.id, 'main', script);
    await scripts.setActive(account.id, 'main');
  }
  if (domainScript) await scripts.setDomainScript(domain.id, domainScript);
  const queue = new MemoryOutboundQueue(clock);
  const blobs = new MemoryBlobStore();
  const outbox = new Outbox({ blobs, queue, clock, maxQueueMs: 86_400_000 });
  const vacations = new MemoryVacationStore(clock);
  const sieve = new SieveDelivery({ scripts, directory, vacations, submission: outbox, hostname: 'mail.interieur.gouv.test', clock });
  const responder = new VacationResponder({ vacations, directory, submission: outbox, hostname: 'mail.interieur.gouv.test', clock });
  return { sieve, queue, account, responder, blobs };
}

function input(extraHeaders = ''): SieveMessageInput {
  const header = `${extraHeaders}From: Ami <ami@example.org>\r\nTo: agent@interieur.gouv.test\r\nSubject: Bonjour\r\nMessage-ID: <a@example.org>\r\n\r\n`;
  return {
    header: HeaderSection.parse(Buffer.from(header)),
    envelopeFrom: 'ami@example.org',
    size: 100,
    body: async () => Buffer.from('Le mot est banane.\r\n'),
    open: async function* () {
      yield Buffer.from(`${header}Le mot est banane.\r\n`);
    },
  };
}

/** A multipart/mixed message: a base64 UTF-8 text part, a quoted-printable HTML part, and a forwarded message. */
function multipartInput(): SieveMessageInput {
  const header = 'From: Ami <ami@example.org>\r\nTo: agent@interieur.gouv.test\r\nSubject: Pièces\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n';
  const body = [
    'Prologue du message.',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('Votre facture de décembre est jointe.\r\n').toString('base64'),
    '--b1',
    'Content-Type: text/html; charset=iso-8859-1',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    '<p>R=E9gl=E9e <b>avant</b> le 31</p>',
    '--b1',
    'Content-Type: message/rfc822',
    '',
    'Subject: Transfert interne',
    'From: directeur@interieur.gouv.test',
    '',
    'Corps du message transfere.',
    '--b1--',
    '',
  ].join('\r\n');
  return {
    header: HeaderSection.parse(Buffer.from(header)),
    envelopeFrom: 'ami@example.org',
    size: header.length + body.length,
    body: async () => Buffer.from(body),
    open: async function* () {
      yield Buffer.from(header + body);
    },
  };
}

describe('SieveDelivery', () => {
  it('body matches each MIME part decoded (RFC 5173 §5): base64 UTF-8 text, quoted-printable Latin-1 HTML, a forwarded header', async () => {
    const cases: [string, boolean][] = [
      ['body :text :contains "facture de décembre"', true],
      ['body :contains "facture"', true],
      ['body :raw :contains "facture"', false],
      ['body :content "text/html" :contains "Réglée <b>avant</b>"', true],
      ['body :content "text/html" :contains "facture"', false],
      ['body :content "text/plain" :contains "Réglée"', false],
      ['body :content "message/rfc822" :contains "Transfert interne"', true],
      ['body :content "text" :contains "Corps du message transfere"', true],
      ['body :content "image" :contains "facture"', false],
      ['body :raw :contains "R=E9gl=E9e"', true],
    ];
    for (const [test, expected] of cases) {
      const { sieve, account } = await setup(`require ["body","fileinto"]; if ${test} { fileinto "Trouve"; }`);
      const plan = await sieve.plan({ accountId: account.id, address: account.address }, multipartInput(), { accountId: account.id });
      expect([test, plan.targets.some((t) => t.mailbox === 'Trouve')]).toEqual([test, expected]);
    }
  });


  it('redirects through the outbox with a loop mark, and refuses to redirect a message it already redirected', async () => {
    const { sieve, queue, account, responder, blobs } = await setup('redirect "chef@example.net";');
    const to = { accountId: account.id, address: account.address };
    const plan = await sieve.plan(to, input(), { accountId: account.id });
    expect(plan.targets).toEqual([]);
    expect(plan.redirects).toEqual(['chef@example.net']);
    await sieve.act(to, input(), plan, true, responder);
    const [job] = await queue.list();
    expect(job!.recipients[0]!.address).toBe('chef@example.net');
    expect(job!.message.sender).toBe('ami@example.org');
    const sent = (await blobs.read(job!.message.blobId)).toString();
    const mark = new RegExp(`^${REDIRECT_MARK}: agent@interieur.gouv.test; mac=[A-Za-z0-9_-]{43}\r\n`).exec(sent)![0];

    // The genuine mark, on the same message, stops a second redirect: the message is kept.
    const looped = await sieve.plan(to, input(mark), { accountId: account.id });
    expect(looped.redirects).toEqual([]);
    expect(looped.targets).toEqual([{ accountId: account.id }]);
    // A mark a sender wrote, or ours copied onto another message, does not verify and changes nothing.
    for (const forged of [`${REDIRECT_MARK}: agent@interieur.gouv.test\r\n`, `${REDIRECT_MARK}: agent@interieur.gouv.test; mac=${'A'.repeat(43)}\r\n`]) {
      expect((await sieve.plan(to, input(forged), { accountId: account.id })).redirects).toEqual(['chef@example.net']);
    }
    const other = (extra: string): SieveMessageInput => ({ ...input(extra), header: HeaderSection.parse(Buffer.from(`${extra}From: Ami <ami@example.org>\r\nSubject: Autre\r\nMessage-ID: <b@example.org>\r\n\r\n`)) });
    expect((await sieve.plan(to, other(mark), { accountId: account.id })).redirects).toEqual(['chef@example.net']);
    // Marks of other accounts, genuine, count as hops: a loop through many accounts ends.
    const hopMarks = (await Promise.all(Array.from({ length: MAX_REDIRECT_HOPS }, (_, i) => sieve.marks.field(`other${i}@interieur.gouv.test`, input().header)))).join('');
    expect((await sieve.plan(to, input(hopMarks), { accountId: account.id })).redirects).toEqual([]);
    const fakeHops = Array.from({ length: MAX_REDIRECT_HOPS }, (_, i) => `${REDIRECT_MARK}: other${i}@example.net\r\n`).join('');
    expect((await sieve.plan(to, input(fakeHops), { accountId: account.id })).redirects).toEqual(['chef@example.net']);
    // A message that went through many relays is not redirected again (a loop through another deployment).
    const relays = 'Received: from a by b; Mon, 7 Dec 2026 10:00:00 +0000\r\n'.repeat(MAX_REDIRECT_RECEIVED);
    expect((await sieve.plan(to, input(relays), { accountId: account.id })).redirects).toEqual([]);
  });

  it('vacation :mime sends the reason as its MIME entity: Content-* fields kept, others dropped, 8-bit text base64', async () => {
    const reason = 'Content-Type: text/html; charset=utf-8\r\nBcc: espion@example.org\r\nTo: tous@example.org\r\n\r\n<p>Je suis <b>absent</b>.</p>\r\n';
    const { sieve, queue, account, responder, blobs } = await setup(`require "vacation"; vacation :mime :subject "Absent" text:\r\n${reason}.\r\n;`);
    const to = { accountId: account.id, address: account.address };
    await sieve.act(to, input(), await sieve.plan(to, input(), { accountId: account.id }), true, responder);
    const [job] = await queue.list();
    const sent = (await blobs.read(job!.message.blobId)).toString();
    const [head, body] = [sent.slice(0, sent.indexOf('\r\n\r\n')), sent.slice(sent.indexOf('\r\n\r\n') + 4)];
    expect(head).toMatch(/^Content-Type: text\/html; charset=utf-8$/m);
    expect(head).not.toMatch(/^(Bcc|To: tous)/im);
    expect(head).not.toMatch(/text\/plain/);
    expect(body).toBe('<p>Je suis <b>absent</b>.</p>\r\n');
    expect(mimeEntity('Réponse sans en-tête')).toBe(`Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${Buffer.from('Réponse sans en-tête').toString('base64')}\r\n`);
    expect(mimeEntity('\r\nAbsent.')).toBe('Content-Type: text/plain; charset=us-ascii\r\n\r\nAbsent.\r\n');
  });

  it('files into mailboxes with flags after the domain script; body tests read the body', async () => {
    const { sieve, account } = await setup('require ["body","fileinto","imap4flags"]; if body :contains "banane" { fileinto :flags "\\\\Flagged" "Fruits"; }', 'require "fileinto"; fileinto :copy "Archive";'.replace(' :copy', ''));
    const plan = await sieve.plan({ accountId: account.id, address: account.address }, input(), { accountId: account.id });
    expect(plan.targets).toEqual([
      { accountId: account.id, mailbox: 'Archive', flags: [] },
      { accountId: account.id, mailbox: 'Fruits', flags: ['\\Flagged'] },
    ]);
  });

  it("a domain script or the account's filter-only script leaves the built-in vacation on; the account's own vacation script replaces it", async () => {
    const domainOnly = await setup(null, 'require "vacation"; keep;');
    const to = { accountId: domainOnly.account.id, address: domainOnly.account.address };
    expect((await domainOnly.sieve.plan(to, input(), { accountId: to.accountId })).answersVacation).toBe(false);
    const filterOnly = await setup('require "fileinto"; if header :contains "subject" "x" { fileinto "X"; }');
    expect((await filterOnly.sieve.plan({ accountId: filterOnly.account.id, address: filterOnly.account.address }, input(), { accountId: filterOnly.account.id })).answersVacation).toBe(false);
    const own = await setup('require "vacation"; if false { vacation "Absent."; }');
    expect((await own.sieve.plan({ accountId: own.account.id, address: own.account.address }, input(), { accountId: own.account.id })).answersVacation).toBe(true);
  });

  it('answers a vacation once per sender and handle, and sends a refusal notice after the 250', async () => {
    const { sieve, queue, account, responder } = await setup('require "vacation"; vacation :days 2 :subject "Absent" "Je suis absent.";');
    const to = { accountId: account.id, address: account.address };
    for (let i = 0; i < 3; i++) await sieve.act(to, input(), await sieve.plan(to, input(), { accountId: account.id }), true, responder);
    const jobs = await queue.list();
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.message.sender).toBe('');
    // A list message gets no vacation reply (RFC 5230 §4.6, the rules vacationSkipReason holds).
    await sieve.act(to, input('List-Id: <l.example.org>\r\n'), await sieve.plan(to, input('List-Id: <l.example.org>\r\n'), { accountId: account.id }), true, responder);
    expect(await queue.list()).toHaveLength(1);

    const rejecting = await setup('require "reject"; reject "Plus à cette adresse.";');
    const them = { accountId: rejecting.account.id, address: rejecting.account.address };
    const plan = await rejecting.sieve.plan(them, input(), { accountId: rejecting.account.id });
    expect(plan.reject).toEqual({ reason: 'Plus à cette adresse.', ereject: false });
    await rejecting.sieve.act(them, input(), plan, true, rejecting.responder);
    const [notice] = await rejecting.queue.list();
    expect(notice!.recipients[0]!.address).toBe('ami@example.org');
    expect(notice!.message.sender).toBe('');
  });
});
