// Fan-out of one delivery to many IDLE connections, measured with a client that costs next to nothing
// per connection: raw sockets speaking just LOGIN, SELECT and IDLE, and a substring test for EXISTS.
// The shared harness's idle phase uses imapflow, whose parsing of 10,000 EXISTS responses in one process
// on the same two cores is itself about a second; this tells the server's part from the client's.
// Usage: node bench/_raw-idle.mjs IMAP_PORT SMTP_PORT USER PASS CONNS → one JSON line on stdout.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import nodemailer from 'nodemailer';

const [imapPort, smtpPort, user, pass, connsArg] = process.argv.slice(2);
const n = Number(connsArg);
const quote = (s) => `"${s.replace(/["\\]/g, '\\$&')}"`;
const steps = [
  { expect: '* OK', send: `a LOGIN ${quote(user)} ${quote(pass)}\r\n` },
  { expect: 'a OK', fail: 'a ', send: 'b SELECT INBOX\r\n' },
  { expect: 'b OK', fail: 'b ', send: 'c IDLE\r\n' },
  { expect: '+', send: null },
];

function idler() {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(imapPort), '127.0.0.1');
    socket.setEncoding('latin1');
    const conn = { socket, at: null, onExists: null };
    let stage = 0;
    let pending = '';
    socket.on('error', reject);
    socket.on('data', (data) => {
      if (stage >= steps.length) {
        // Idling: the first EXISTS after the delivery is what we time.
        if (conn.onExists && conn.at === null && data.includes(' EXISTS')) conn.onExists(conn);
        return;
      }
      pending += data;
      let end;
      while (stage < steps.length && (end = pending.indexOf('\r\n')) >= 0) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 2);
        const step = steps[stage];
        if (line.startsWith(step.expect)) {
          stage++;
          if (step.send) socket.write(step.send);
          else resolve(conn);
        } else if (step.fail && line.startsWith(step.fail)) {
          reject(new Error(line));
        }
      }
    });
  });
}

const clients = [];
let failed = 0;
let firstError = '';
let next = 0;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: 50 }, async () => {
    while (next < n) {
      next++;
      try {
        clients.push(await idler());
      } catch (error) {
        failed++;
        firstError ||= error.message;
      }
    }
  }),
);
const setupS = (performance.now() - t0) / 1000;
await new Promise((r) => setTimeout(r, 2000));

const got = [];
let tSend = 0;
let t250 = 0;
for (const c of clients) c.onExists = (conn) => ((conn.at = performance.now()), got.push(conn.at));
const transport = nodemailer.createTransport({ host: '127.0.0.1', port: Number(smtpPort), secure: false, ignoreTLS: true });
tSend = performance.now();
await transport.sendMail({ from: user, to: user, subject: 'raw fan-out', text: 'one delivery to every idler\n' });
t250 = performance.now();
transport.close();
for (let i = 0; i < 600 && got.length < clients.length; i++) await new Promise((r) => setTimeout(r, 100));
const pct = (list, p) => {
  if (!list.length) return null;
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};
const fromSend = got.map((t) => t - tSend);
const from250 = got.map((t) => t - t250);
console.log(
  JSON.stringify({
    conns: n,
    idling: clients.length,
    failed,
    firstError,
    connS: clients.length / setupS,
    notified: got.length,
    smtpMs: t250 - tSend,
    fromSend: { p50: pct(fromSend, 50), p99: pct(fromSend, 99), max: pct(fromSend, 100) },
    from250: { p50: pct(from250, 50), p99: pct(from250, 99), max: pct(from250, 100) },
  }),
);
for (const c of clients) c.socket.destroy();
