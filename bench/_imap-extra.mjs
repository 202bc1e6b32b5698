#!/usr/bin/env node
// Extra IMAP measurements that bench.sh does not make, run by bench/mail-imap.mjs against each server:
//   logins  LOGIN + LOGOUT on fresh connections, 10 in flight        → logins/s
//   mixed   20 clients doing a mail-app-like mix on bench-10000       → commands/s, p50/p99
// Usage: node bench/_imap-extra.mjs HOST:PORT USER PASS   (prints JSON results on the last line)
import { ImapFlow } from 'imapflow';

const [hp, user, pass] = process.argv.slice(2);
const [host, port] = [hp.slice(0, hp.lastIndexOf(':')), Number(hp.slice(hp.lastIndexOf(':') + 1))];
const LOGINS = Number(process.env.LOGIN_CONNS || 500);
const MIXED_CLIENTS = Number(process.env.MIXED_CLIENTS || 20);
const MIXED_ROUNDS = Number(process.env.MIXED_ROUNDS || 25);
const client = () =>
  new ImapFlow({ host, port, secure: false, auth: { user, pass }, logger: false, tls: { rejectUnauthorized: false }, disableAutoIdle: true, disableCompression: true });
const pct = (a, p) => {
  if (!a.length) return NaN;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const results = {};

// ---- logins ----
{
  let next = 0;
  let failed = 0;
  const lat = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (next < LOGINS) {
        next++;
        const t = performance.now();
        const c = client();
        c.on('error', () => {});
        try {
          await c.connect();
          await c.logout();
          lat.push(performance.now() - t);
        } catch {
          failed++;
        }
      }
    }),
  );
  const s = (performance.now() - t0) / 1000;
  results.logins = { conns: LOGINS, failed, loginsS: (LOGINS - failed) / s, p50: pct(lat, 50), p99: pct(lat, 99) };
  console.log(`logins                     ${LOGINS - failed}/${LOGINS} connect+LOGIN+LOGOUT, 10 in flight: ${((LOGINS - failed) / s).toFixed(0)} logins/s, p50 ${pct(lat, 50).toFixed(1)} ms`);
}

// ---- mixed command load ----
{
  const box = 'bench-10000';
  const lat = [];
  /** Latencies per command, to tell which ones make the median and the tail. */
  const byCommand = new Map();
  let ops = 0;
  let failed = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: MIXED_CLIENTS }, async (_, k) => {
      const c = client();
      c.on('error', () => {});
      await c.connect();
      const timed = async (name, fn) => {
        const t = performance.now();
        try {
          await fn();
          ops++;
          const ms = performance.now() - t;
          lat.push(ms);
          if (!byCommand.has(name)) byCommand.set(name, []);
          byCommand.get(name).push(ms);
        } catch {
          failed++;
        }
      };
      for (let round = 0; round < MIXED_ROUNDS; round++) {
        await timed('SELECT', () => c.mailboxOpen(box));
        const exists = c.mailbox.exists || 1;
        const start = 1 + ((k * 397 + round * 131) % Math.max(1, exists - 50));
        await timed('FETCH 50 envelopes', () => c.fetchAll(`${start}:${start + 49}`, { uid: true, flags: true, envelope: true, size: true }));
        await timed('FETCH 1 body', () => c.fetchOne(String(start + 7), { source: true }));
        await timed('STORE +Seen', () => c.messageFlagsAdd(String(start + 3), ['\\Seen']));
        await timed('STORE -Seen', () => c.messageFlagsRemove(String(start + 3), ['\\Seen']));
        await timed('SEARCH SUBJECT', () => c.search({ subject: `message ${start + 11}` }));
        await timed('STATUS INBOX', () => c.status('INBOX', { messages: true, unseen: true, uidNext: true }));
        await timed('LIST', () => c.list());
        await timed('NOOP', () => c.noop());
        await timed('CLOSE', () => c.mailboxClose());
      }
      await c.logout();
    }),
  );
  const s = (performance.now() - t0) / 1000;
  results.mixed = { clients: MIXED_CLIENTS, ops, failed, opsS: ops / s, p50: pct(lat, 50), p99: pct(lat, 99) };
  for (const [name, l] of byCommand) console.log(`  ${name.padEnd(24)} p50 ${pct(l, 50).toFixed(1).padStart(6)} ms   p99 ${pct(l, 99).toFixed(1).padStart(6)} ms`);
  results.mixedByCommand = Object.fromEntries([...byCommand].map(([name, l]) => [name, { n: l.length, p50: pct(l, 50), p99: pct(l, 99) }]));
  console.log(
    `mixed                      ${MIXED_CLIENTS} clients x ${MIXED_ROUNDS} rounds (SELECT, FETCH 50 envelopes, 1 body, STORE x2, SEARCH, STATUS, LIST, NOOP, CLOSE): ${(ops / s).toFixed(0)} commands/s, p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms, ${failed} failed`,
  );
}
console.log(JSON.stringify(results));
