import { NotFoundError, QuotaExceededError } from '@palabre/core';
import { describe, expect, it } from 'vitest';
import { MessageRejection } from '../delivery/rejection.js';
import { SmtpError, toSmtpError } from './smtp-error.js';

describe('toSmtpError: the one table from the pipeline’s refusals to SMTP replies', () => {
  it('says each kind of rejection with its reply class and code', () => {
    const said = (r: MessageRejection) => toSmtpError(r).toString();
    expect(said(new MessageRejection('not-your-address', 'you may not send as x'))).toBe('550 5.7.1 you may not send as x');
    expect(said(new MessageRejection('malformed-originator', 'two From: fields'))).toBe('550 5.6.0 two From: fields');
    expect(said(new MessageRejection('authentication-policy', 'DMARC'))).toBe('550 5.7.1 DMARC');
    expect(said(new MessageRejection('refused-by-recipient', 'non merci'))).toBe('550 5.7.1 non merci');
    expect(said(new MessageRejection('mailbox-full', 'full'))).toBe('552 5.2.2 full');
    expect(said(new MessageRejection('mailbox-full', 'full, later', { permanent: false }))).toBe('452 4.2.2 full, later');
    expect(said(new MessageRejection('relay-denied', 'relay access denied'))).toBe('550 5.7.1 relay access denied');
    expect(said(new MessageRejection('filtered', 'spam'))).toBe('550 5.7.1 spam');
    expect(said(new MessageRejection('filtered', 'greylisted', { permanent: false }))).toBe('451 4.7.1 greylisted');
  });

  it('keeps a filter’s own code only when it agrees with the reply class', () => {
    expect(toSmtpError(new MessageRejection('filtered', 'virus', { enhanced: '5.7.9' })).toString()).toBe('550 5.7.9 virus');
    // A filter cannot turn a deferral into a permanent-looking code, or the reverse.
    expect(toSmtpError(new MessageRejection('filtered', 'later', { permanent: false, enhanced: '5.7.9' })).toString()).toBe('451 4.7.1 later');
    expect(toSmtpError(new MessageRejection('filtered', 'no', { enhanced: '4.7.1' })).toString()).toBe('550 5.7.1 no');
  });

  it('treats our own failure to check as unexpected (logged with its cause), a sender’s fault as expected', () => {
    const cause = new Error('DNS down');
    const ours = toSmtpError(new MessageRejection('checks-unavailable', 'try again later', { permanent: false, cause }));
    expect(ours).toMatchObject({ responseCode: 451, enhanced: '4.7.0', expected: false, cause });
    expect(toSmtpError(new MessageRejection('authentication-policy', 'DMARC')).expected).toBe(true);
  });

  it('passes SMTP errors through and maps storage errors and the unknown to safe replies', () => {
    const own = new SmtpError(554, '5.5.1', 'x');
    expect(toSmtpError(own)).toBe(own);
    expect(toSmtpError(new QuotaExceededError('over')).toString()).toBe('452 4.2.2 mailbox full, try again later');
    expect(toSmtpError(new NotFoundError('nothing')).toString()).toBe('451 4.3.0 temporary local problem, try again later');
    expect(toSmtpError(new Error('boom')).expected).toBe(false);
  });
});
