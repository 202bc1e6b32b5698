import { displayDomain } from '@palabre/core';
import { encodeSegment, escapeAttr, escapeText } from '@palabre/webdav';
import { httpOrigin, preferred, type MailListener, type OnboardingEndpoints } from './endpoints.js';

/**
 * Thunderbird's autoconfig answer (the "config-v1.1.xml" format of Mozilla's ISP database, read by
 * Thunderbird, K-9/Thunderbird for Android, Evolution and KMail): one `emailProvider` for the domain
 * the client asked about, its IMAP and submission listeners (the preferred first: Thunderbird uses the
 * first it supports and keeps the others as alternatives), and the CalDAV/CardDAV servers. The user
 * name is the whole address (`%EMAILADDRESS%`), as every Palabre protocol expects.
 */
export function autoconfigXml(endpoints: OnboardingEndpoints, domain: string, organization: string): string {
  const server = (tag: 'incomingServer' | 'outgoingServer', type: 'imap' | 'smtp', l: MailListener) =>
    [
      `    <${tag} type="${type}">`,
      `      <hostname>${escapeText(endpoints.hostname)}</hostname>`,
      `      <port>${l.port}</port>`,
      `      <socketType>${l.socket}</socketType>`,
      '      <authentication>password-cleartext</authentication>',
      '      <username>%EMAILADDRESS%</username>',
      `    </${tag}>`,
    ].join('\n');
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<clientConfig version="1.1">',
    `  <emailProvider id="${escapeAttr(domain)}">`,
    `    <domain>${escapeText(domain)}</domain>`,
    `    <displayName>${escapeText(`${organization} (${displayDomain(domain)})`)}</displayName>`,
    `    <displayShortName>${escapeText(organization)}</displayShortName>`,
    ...preferred(endpoints.imap).map((l) => server('incomingServer', 'imap', l)),
    ...preferred(endpoints.submission).map((l) => server('outgoingServer', 'smtp', l)),
    '  </emailProvider>',
  ];
  const origin = httpOrigin(endpoints);
  if (origin) {
    // The DAV context path: clients find the principal and its homes from there (RFC 6764 §6).
    const dav = `${origin}${endpoints.davPath}`;
    for (const [tag, type] of [
      ['addressBook', 'carddav'],
      ['calendar', 'caldav'],
    ] as const) {
      lines.push(
        `  <${tag} type="${type}">`,
        '    <username>%EMAILADDRESS%</username>',
        '    <authentication system="http">basic</authentication>',
        `    <serverURL>${escapeText(dav)}</serverURL>`,
        `  </${tag}>`,
      );
    }
  }
  lines.push('</clientConfig>', '');
  return lines.join('\n');
}

/** The principal URL of an account (`/dav/principals/users/<address>/`), for clients that want it given. */
export function principalUrl(endpoints: OnboardingEndpoints, address: string): string | null {
  const origin = httpOrigin(endpoints);
  return origin ? `${origin}${endpoints.davPath}principals/users/${encodeSegment(address)}/` : null;
}
