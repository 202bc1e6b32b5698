import { createHash } from 'node:crypto';
import { principalUrl } from './autoconfig.js';
import { preferred, type OnboardingEndpoints } from './endpoints.js';
import { plistXml, type PlistValue } from './plist.js';

/**
 * An Apple configuration profile (Apple's "Configuration Profile Reference"): one download that sets up
 * Mail (IMAP + submission), Calendar (CalDAV) and Contacts (CardDAV) on an iPhone, iPad or Mac. No
 * password is in it: the device asks for it once per account when the profile is installed, so the
 * file is no secret and a stolen copy opens nothing.
 */

export interface ProfileAccount {
  /** Primary address: the user name on every protocol. */
  readonly address: string;
  readonly displayName: string;
}

/** RFC 9562 name-based UUID (version 5, SHA-1) in the URL namespace. */
const URL_NAMESPACE = Buffer.from('6ba7b8119dad11d180b400c04fd430c8', 'hex');
function nameUuid(name: string): string {
  const hash = createHash('sha1').update(URL_NAMESPACE).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex').toUpperCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** `mail.gouv.tg` → `tg.gouv.mail`: the reverse-DNS style Apple's identifiers use. */
function reverseDns(hostname: string): string {
  const labels = hostname.toLowerCase().split('.').filter((l) => /^[a-z0-9-]+$/.test(l));
  return labels.length ? labels.reverse().join('.') : 'localhost';
}

export interface ProfileOptions {
  /** Shown on the device as the profile's publisher ("Ministère de la Santé"). */
  readonly organization: string;
}

/**
 * The profile's plist. UUIDs and identifiers are derived from the host and the address, so downloading
 * it again and installing it replaces the accounts instead of adding a second copy of each.
 */
export function mobileconfigPlist(endpoints: OnboardingEndpoints, account: ProfileAccount, options: ProfileOptions): string {
  const host = endpoints.hostname;
  const base = `${reverseDns(host)}.palabre`;
  const seed = (kind: string) => `https://${host}/onboarding/${account.address}#${kind}`;
  const payload = (kind: string, type: string, displayName: string, body: Record<string, PlistValue>): Record<string, PlistValue> => ({
    PayloadType: type,
    PayloadVersion: 1,
    PayloadIdentifier: `${base}.${kind}.${nameUuid(seed(kind))}`,
    PayloadUUID: nameUuid(seed(kind)),
    PayloadDisplayName: displayName,
    PayloadDescription: `${displayName} (${account.address})`,
    PayloadOrganization: options.organization,
    ...body,
  });
  const content: Record<string, PlistValue>[] = [];
  const imap = preferred(endpoints.imap)[0];
  const smtp = preferred(endpoints.submission)[0];
  if (imap && smtp) {
    // UseSSL means implicit TLS; on a STARTTLS port Apple's Mail upgrades by itself when it is offered.
    content.push(
      payload('mail', 'com.apple.mail.managed', 'Mail', {
        EmailAccountDescription: `${options.organization} (${account.address})`,
        EmailAccountName: account.displayName,
        EmailAccountType: 'EmailTypeIMAP',
        EmailAddress: account.address,
        IncomingMailServerAuthentication: 'EmailAuthPassword',
        IncomingMailServerHostName: host,
        IncomingMailServerPortNumber: imap.port,
        IncomingMailServerUseSSL: imap.socket === 'SSL',
        IncomingMailServerUsername: account.address,
        OutgoingMailServerAuthentication: 'EmailAuthPassword',
        OutgoingMailServerHostName: host,
        OutgoingMailServerPortNumber: smtp.port,
        OutgoingMailServerUseSSL: smtp.socket === 'SSL',
        OutgoingMailServerUsername: account.address,
        OutgoingPasswordSameAsIncomingPassword: true,
      }),
    );
  }
  const principal = principalUrl(endpoints, account.address);
  if (endpoints.http && principal) {
    const { port, tls } = endpoints.http;
    for (const [kind, type, prefix, name] of [
      ['caldav', 'com.apple.caldav.account', 'CalDAV', 'Calendars'],
      ['carddav', 'com.apple.carddav.account', 'CardDAV', 'Contacts'],
    ] as const) {
      content.push(
        payload(kind, type, name, {
          [`${prefix}AccountDescription`]: `${options.organization} (${account.address})`,
          [`${prefix}HostName`]: host,
          [`${prefix}Port`]: port,
          [`${prefix}PrincipalURL`]: principal,
          [`${prefix}UseSSL`]: tls,
          [`${prefix}Username`]: account.address,
        }),
      );
    }
  }
  return plistXml({
    PayloadContent: content,
    PayloadDescription: `Mail, calendars and contacts of ${account.address} on ${host}. Your password is asked for when the profile is installed.`,
    PayloadDisplayName: `${options.organization}: ${account.address}`,
    PayloadIdentifier: `${base}.profile.${nameUuid(seed('profile'))}`,
    PayloadOrganization: options.organization,
    PayloadRemovalDisallowed: false,
    PayloadType: 'Configuration',
    PayloadUUID: nameUuid(seed('profile')),
    PayloadVersion: 1,
  });
}
