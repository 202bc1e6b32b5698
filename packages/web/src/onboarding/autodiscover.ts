import { child, elements, escapeText, parseXml, textOf } from '@palabre/webdav';
import { WebError } from '../errors.js';
import { httpOrigin, preferred, type MailListener, type OnboardingEndpoints } from './endpoints.js';

/**
 * Outlook's autodiscover, the "POX" (plain old XML) flavour of [MS-OXDSCLI] that Outlook for Windows
 * and macOS, and most mobile mail apps that know Exchange, send before anything else: a request naming
 * an address, an answer listing the IMAP and SMTP servers. The JSON endpoint of autodiscover v2
 * ([MS-OXDSCLI] 2.2.3) only points back to the POX one: Palabre has no EWS or ActiveSync to offer.
 */

export const REQUEST_NS = 'http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006';
export const RESPONSE_NS = 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006';
export const OUTLOOK_RESPONSE_NS = 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a';

/** Requests are a few hundred bytes; anything much larger is not one. */
export const MAX_AUTODISCOVER_BODY = 16 * 1024;
/** Autodiscover > Request > EMailAddress is three deep: a document deeper or larger than this is hostile. */
const LIMITS = { maxDepth: 8, maxNodes: 64, maxAttributes: 8 };

export interface AutodiscoverRequest {
  readonly emailAddress: string;
}

/** The request body, through the project's one XML parser (no DTD, no entity, bounded depth and size). */
export function parseAutodiscoverRequest(body: Uint8Array): AutodiscoverRequest {
  const root = parseXml(body, LIMITS);
  if (root.ns !== REQUEST_NS || root.name !== 'Autodiscover') throw new AutodiscoverError('not an Outlook autodiscover request');
  const request = child(root, REQUEST_NS, 'Request');
  if (!request) throw new AutodiscoverError('no Request element');
  const schema = child(request, REQUEST_NS, 'AcceptableResponseSchema');
  // Only the Outlook schema: the mobilesync one asks for ActiveSync, which is not served here.
  if (schema && textOf(schema).trim() !== OUTLOOK_RESPONSE_NS) throw new AutodiscoverError('only the Outlook response schema is served here');
  const address = child(request, REQUEST_NS, 'EMailAddress');
  if (!address || elements(address).length) throw new AutodiscoverError('no EMailAddress');
  return { emailAddress: textOf(address).trim() };
}

/** A request Outlook could have sent but that we cannot answer: the protocol's own error document. */
export class AutodiscoverError extends WebError {
  constructor(message: string) {
    super(400, message);
    this.name = 'AutodiscoverError';
  }
}

function protocol(type: 'IMAP' | 'SMTP', endpoints: OnboardingEndpoints, listener: MailListener, loginName: string): string {
  // SSL "on" with Encryption "TLS" is how Outlook is told STARTTLS; "SSL" is implicit TLS.
  const encryption = { SSL: 'SSL', STARTTLS: 'TLS', plain: 'None' }[listener.socket];
  return [
    '      <Protocol>',
    `        <Type>${type}</Type>`,
    `        <Server>${escapeText(endpoints.hostname)}</Server>`,
    `        <Port>${listener.port}</Port>`,
    `        <LoginName>${escapeText(loginName)}</LoginName>`,
    '        <DomainRequired>off</DomainRequired>',
    '        <SPA>off</SPA>',
    `        <SSL>${listener.socket === 'plain' ? 'off' : 'on'}</SSL>`,
    `        <Encryption>${encryption}</Encryption>`,
    '        <AuthRequired>on</AuthRequired>',
    ...(type === 'SMTP' ? ['        <UsePOPAuth>off</UsePOPAuth>', '        <SMTPLast>off</SMTPLast>'] : []),
    '      </Protocol>',
  ].join('\n');
}

/** The settings answer for one address: its preferred IMAP and submission listeners, log-in = address. */
export function autodiscoverXml(endpoints: OnboardingEndpoints, address: string, displayName?: string): string {
  const imap = preferred(endpoints.imap)[0];
  const smtp = preferred(endpoints.submission)[0];
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    `<Autodiscover xmlns="${RESPONSE_NS}">`,
    `  <Response xmlns="${OUTLOOK_RESPONSE_NS}">`,
    ...(displayName ? ['    <User>', `      <DisplayName>${escapeText(displayName)}</DisplayName>`, '    </User>'] : []),
    '    <Account>',
    '      <AccountType>email</AccountType>',
    '      <Action>settings</Action>',
    ...(imap ? [protocol('IMAP', endpoints, imap, address)] : []),
    ...(smtp ? [protocol('SMTP', endpoints, smtp, address)] : []),
    '    </Account>',
    '  </Response>',
    '</Autodiscover>',
    '',
  ].join('\n');
}

/** [MS-OXDSCLI] error 600 "Invalid Request", in the response schema Outlook reads errors from. */
export function autodiscoverErrorXml(now: Date): string {
  const time = now.toISOString().slice(11, 19);
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    `<Autodiscover xmlns="${RESPONSE_NS}">`,
    `  <Response>`,
    `    <Error Time="${time}" Id="0">`,
    '      <ErrorCode>600</ErrorCode>',
    '      <Message>Invalid Request</Message>',
    '      <DebugData />',
    '    </Error>',
    '  </Response>',
    '</Autodiscover>',
    '',
  ].join('\n');
}

/** The protocols autodiscover v2 may be asked for; only AutodiscoverV1 (the POX endpoint) exists here. */
const SUPPORTED_V2 = 'AutodiscoverV1';

/** Autodiscover v2: where the POX endpoint is, or Microsoft's InvalidProtocol error (status 400). */
export function autodiscoverJson(endpoints: OnboardingEndpoints, protocolName: string | null): { status: number; body: Record<string, string> } {
  const origin = httpOrigin(endpoints);
  if (!protocolName || protocolName.toLowerCase() !== SUPPORTED_V2.toLowerCase() || !origin) {
    return {
      status: 400,
      body: { ErrorCode: 'InvalidProtocol', ErrorMessage: `The given protocol value is invalid. Supported values are '${SUPPORTED_V2}'` },
    };
  }
  return { status: 200, body: { Protocol: SUPPORTED_V2, Url: `${origin}/autodiscover/autodiscover.xml` } };
}
