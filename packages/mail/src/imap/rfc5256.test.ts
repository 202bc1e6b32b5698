import { describe, expect, it } from 'vitest';
import { baseSubject, formatThreads, sortMessages, threadOrderedSubject, threadReferences, type SortableMessage } from './rfc5256.js';

let seq = 0;
function msg(over: Partial<SortableMessage> & { id?: number }): SortableMessage {
  seq++;
  return {
    id: over.id ?? seq,
    seq: over.seq ?? over.id ?? seq,
    size: 100,
    arrival: 0,
    sent: 0,
    subject: '',
    from: null,
    to: null,
    cc: null,
    messageId: null,
    references: [],
    ...over,
  };
}

describe('RFC 5256 base subject (§2.1)', () => {
  it.each([
    ['Re: hello', 'hello', true],
    ['RE: Re: Fwd: hello', 'hello', true],
    ['Re[2]: hello', 'hello', true],
    ['[list] Re: [list] hello', 'hello', true],
    ['[list] hello', 'hello', false],
    ['[only a blob]', '[only a blob]', false],
    ['hello (fwd)', 'hello', true],
    ['[Fwd: Re: hello]', 'hello', true],
    ['  Hello\t  World  ', 'hello world', false],
    ['Réunion: budget', 'réunion: budget', false],
    ['Fw : spaced', 'spaced', true],
    ['', '', false],
  ])('%j → %j', (subject, base, reply) => {
    expect(baseSubject(subject)).toEqual({ base, reply });
  });

  it('stays linear on hostile subjects', () => {
    const hostile = `${'[x]'.repeat(20_000)}${'Re: '.repeat(20_000)}${' (fwd)'.repeat(20_000)}`;
    expect(baseSubject(hostile).base).toBe('');
    expect(baseSubject('['.repeat(50_000)).base).toBe('['.repeat(50_000));
  });
});

describe('RFC 5256 SORT (§3)', () => {
  const a = msg({ id: 1, size: 300, arrival: 3, sent: 20, subject: 'Re: beta', from: { name: 'Zoé', adl: null, mailbox: 'awa', host: 'x' } });
  const b = msg({ id: 2, size: 100, arrival: 1, sent: 30, subject: 'alpha', from: { name: null, adl: null, mailbox: 'Bob', host: 'x' } });
  const c = msg({ id: 3, size: 200, arrival: 2, sent: 10, subject: '[list] Beta', from: null });
  const ids = (criteria: Parameters<typeof sortMessages>[1]) => sortMessages([a, b, c], criteria).map((m) => m.id);

  it('sorts by each key, REVERSE per key, ties in sequence order', () => {
    expect(ids([{ key: 'ARRIVAL', reverse: false }])).toEqual([2, 3, 1]);
    expect(ids([{ key: 'DATE', reverse: false }])).toEqual([3, 1, 2]);
    expect(ids([{ key: 'SIZE', reverse: true }])).toEqual([1, 3, 2]);
    expect(ids([{ key: 'SUBJECT', reverse: false }])).toEqual([2, 1, 3]);
    expect(ids([{ key: 'SUBJECT', reverse: false }, { key: 'DATE', reverse: false }])).toEqual([2, 3, 1]);
    expect(ids([{ key: 'SUBJECT', reverse: true }, { key: 'SIZE', reverse: false }])).toEqual([3, 1, 2]);
    // Missing From sorts first (the empty string); addr-mailbox compared case-insensitively.
    expect(ids([{ key: 'FROM', reverse: false }])).toEqual([3, 1, 2]);
    // RFC 5957: the display name where there is one.
    expect(ids([{ key: 'DISPLAYFROM', reverse: false }])).toEqual([3, 2, 1]);
  });
});

describe('RFC 5256 THREAD', () => {
  it('ORDEREDSUBJECT: one thread per base subject, the first message the parent of the rest', () => {
    const list = [
      msg({ id: 1, sent: 1, subject: 'budget' }),
      msg({ id: 2, sent: 2, subject: 'other' }),
      msg({ id: 3, sent: 3, subject: 'Re: budget' }),
      msg({ id: 4, sent: 4, subject: 'Re: budget' }),
      msg({ id: 5, sent: 5, subject: 'Re: other' }),
      msg({ id: 6, sent: 6, subject: 'alone' }),
    ];
    expect(formatThreads(threadOrderedSubject(list))).toBe('(1 (3)(4))(2 5)(6)');
  });

  it('REFERENCES: the tree of Message-ID/References, dummies for missing parents, subjects gathered', () => {
    const list = [
      msg({ id: 1, sent: 1, subject: 'plan', messageId: '<1@x>' }),
      msg({ id: 2, sent: 2, subject: 'Re: plan', messageId: '<2@x>', references: ['<1@x>'] }),
      msg({ id: 3, sent: 3, subject: 'Re: plan', messageId: '<3@x>', references: ['<1@x>'] }),
      msg({ id: 4, sent: 4, subject: 'Re: plan', messageId: '<4@x>', references: ['<1@x>', '<3@x>'] }),
      // Parent not in the mailbox: the two replies are held by a dummy.
      msg({ id: 5, sent: 5, subject: 'Re: lost', messageId: '<5@x>', references: ['<gone@x>'] }),
      msg({ id: 6, sent: 6, subject: 'Re: lost', messageId: '<6@x>', references: ['<gone@x>'] }),
      // No headers at all, but the same subject as 1: gathered as a reply into its thread.
      msg({ id: 7, sent: 7, subject: 'Re: plan' }),
      msg({ id: 8, sent: 8, subject: 'unrelated', messageId: '<8@x>' }),
    ];
    expect(formatThreads(threadReferences(list))).toBe('(1 (2)(3 4)(7))((5)(6))(8)');
  });

  it('REFERENCES survives loops, duplicate ids, self references and deep chains', () => {
    const loop = [
      msg({ id: 1, sent: 1, subject: 'a', messageId: '<a@x>', references: ['<b@x>'] }),
      msg({ id: 2, sent: 2, subject: 'b', messageId: '<b@x>', references: ['<a@x>'] }),
      msg({ id: 3, sent: 3, subject: 'c', messageId: '<a@x>' }),
      msg({ id: 4, sent: 4, subject: 'd', messageId: '<d@x>', references: ['<d@x>'] }),
    ];
    const text = formatThreads(threadReferences(loop));
    expect(text.match(/\d+/g)!.map(Number).sort()).toEqual([1, 2, 3, 4]);
    const chain = Array.from({ length: 20_000 }, (_, i) => msg({ id: i + 1, sent: i, subject: `m${i}`, messageId: `<${i}@x>`, references: i ? [`<${i - 1}@x>`] : [] }));
    const out = formatThreads(threadReferences(chain));
    expect(out.startsWith('(1 2 3 ')).toBe(true);
    expect(out.endsWith(' 20000)')).toBe(true);
  });
});
