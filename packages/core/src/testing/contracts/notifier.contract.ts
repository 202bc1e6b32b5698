import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Notifier } from '../../ports/notifier.js';
import { expectKind } from './expect-error.js';
import type { ContractSubject } from './subject.js';

export function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      if (check()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error('timed out waiting'));
      setTimeout(tick, 5);
    };
    tick();
  });
}

/**
 * `make` returns two notifiers that must see each other's publishes: the same object for an
 * in-process notifier, two connections (two "nodes") for a cross-node one.
 */
export function notifierContract(name: string, subject: ContractSubject<Notifier, { peer: Notifier }>): void {
  describe(`Notifier contract: ${name}`, () => {
    let a: Notifier;
    let b: Notifier;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ subject: a, peer: b, cleanup } = await subject.make());
    });
    afterEach(async () => cleanup());

    it('delivers to subscribers on this node and the other, once each, in order', async () => {
      const here: unknown[] = [];
      const there: unknown[] = [];
      await a.subscribe('mailbox:1', (p) => here.push(p));
      await b.subscribe('mailbox:1', (p) => there.push(p));
      await a.publish('mailbox:1', { uid: 1 });
      await a.publish('mailbox:1', { uid: 2 });
      await a.publish('mailbox:2', { uid: 99 });
      await waitFor(() => here.length >= 2 && there.length >= 2);
      await new Promise((r) => setTimeout(r, 100));
      expect(here).toEqual([{ uid: 1 }, { uid: 2 }]);
      expect(there).toEqual([{ uid: 1 }, { uid: 2 }]);
    });

    it('stops delivering after unsubscribe, and isolates a throwing subscriber', async () => {
      const got: unknown[] = [];
      const off = await b.subscribe('t', (p) => got.push(p));
      await b.subscribe('t', () => {
        throw new Error('buggy subscriber');
      });
      await a.publish('t', 1);
      await waitFor(() => got.length === 1);
      off();
      await a.publish('t', 2);
      await new Promise((r) => setTimeout(r, 150));
      expect(got).toEqual([1]);
    });

    it('refuses oversized payloads and bad topics', async () => {
      await expectKind(a.publish('t', 'x'.repeat(10_000)), 'invalid');
      await expectKind(a.publish('', 1), 'invalid');
      await expectKind(a.publish('x'.repeat(500), 1), 'invalid');
    });
  });
}
