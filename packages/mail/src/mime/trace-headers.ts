import { randomUUID } from 'node:crypto';

/** Characters we copy from a client-supplied HELO name into a header: nothing that could break it. */
export function safeHelo(helo: string | undefined): string {
  const clean = (helo ?? '').replace(/[^A-Za-z0-9.:_\-[\]]/g, '').slice(0, 100);
  return clean || 'unknown';
}

/** An envelope address fit for a header (already validated by the SMTP parser; defence in depth). */
export function safeAddress(address: string): string {
  return /^[^\s<>()\u0000-\u001f\u007f]{1,512}$/u.test(address) ? address : 'invalid';
}

/** RFC 5322 date-time, e.g. `Tue, 03 Mar 2026 10:00:00 +0000`. */
export function rfc5322Date(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}

export function newMessageId(hostname: string): string {
  return `<${randomUUID()}@${hostname}>`;
}

/** RFC 5321 §4.4 trace field, with the RFC 3848 protocol keyword. */
export function receivedHeader(input: {
  helo: string | undefined;
  ip: string;
  hostname: string;
  secure: boolean;
  authenticated: boolean;
  id: string;
  recipient?: string;
  date: Date;
}): string {
  const protocol = `ESMTP${input.secure ? 'S' : ''}${input.authenticated ? 'A' : ''}`;
  const forPart = input.recipient ? `\r\n\tfor <${safeAddress(input.recipient)}>` : '';
  return `Received: from ${safeHelo(input.helo)} ([${input.ip}])\r\n\tby ${input.hostname} (Palabre) with ${protocol} id ${input.id}${forPart};\r\n\t${rfc5322Date(input.date)}\r\n`;
}
