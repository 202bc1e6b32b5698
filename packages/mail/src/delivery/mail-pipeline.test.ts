import { describe, expect, it } from 'vitest';
import { fixedClock, MemoryBlobStore, MemoryDirectoryStore, MemoryDkimKeyStore, MemoryMailStore, MemoryOutboundQueue, MemoryUsageStore, MemoryVacationStore } from '@palabre/core/testing';
import { generateDkimKey } from '../outbound/dkim.js';
import { createMailPipeline } from './mail-pipeline.js';

describe('createMailPipeline', () => {
  it('sends without an SMTP session: signed with the domain key, queued once, the worker told', async () => {
    const clock = fixedClock('2026-12-07T10:00:00Z');
    const queue = new MemoryOutboundQueue(clock);
    const blobs = new MemoryBlobStore();
    const dkimKeys = new MemoryDkimKeyStore();
    await dkimKeys.add({ domain: 'sante.gouv.tg', selector: 's1', ...generateDkimKey('rsa-sha256') });
    let kicked = 0;
    const directory = new MemoryDirectoryStore();
    const pipeline = createMailPipeline({
      hostname: 'mail.sante.gouv.tg',
      directory,
      blobs,
      delivery: new MemoryMailStore({ directory, blobs, usage: new MemoryUsageStore() }),
      queue,
      onQueued: () => kicked++,
      dkimKeys,
      vacations: new MemoryVacationStore(clock),
      clock,
    });
    const message = 'From: Agenda <agenda@sante.gouv.tg>\r\nTo: ami@example.org\r\nSubject: Invitation\r\n\r\nRéunion lundi.\r\n';
    await pipeline.submission!.submit({ sender: 'agenda@sante.gouv.tg', recipients: [{ address: 'ami@example.org' }], parts: [Buffer.from(message)], signDomain: 'sante.gouv.tg' });
    const jobs = await queue.list();
    expect(jobs.map((j) => j.recipients.map((r) => r.address))).toEqual([['ami@example.org']]);
    const stored = (await blobs.read(jobs[0]!.message.blobId)).toString();
    expect(stored).toMatch(/^DKIM-Signature: .*d=sante\.gouv\.tg/s);
    expect(stored.endsWith(message)).toBe(true);
    expect(kicked).toBe(1);
  });

  it('has no submission without an outbound queue', () => {
    const directory = new MemoryDirectoryStore();
    const blobs = new MemoryBlobStore();
    const pipeline = createMailPipeline({ hostname: 'mail.sante.gouv.tg', directory, blobs, delivery: new MemoryMailStore({ directory, blobs, usage: new MemoryUsageStore() }) });
    expect(pipeline.submission).toBeNull();
  });
});
