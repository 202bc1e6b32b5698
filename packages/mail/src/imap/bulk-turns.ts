// The queue of turns is the process's (core's bulkTurns, shared with DAV's listings); these are IMAP's sizes.
export { BulkTurns, bulkTurns } from '@palabre/core';
/** A FETCH, SEARCH or STORE of more messages than this takes turns; smaller ones run straight. */
export const BULK_MESSAGES = 16;
/** Bytes of a bulk FETCH's responses between two turns (message bodies). */
export const BULK_BYTES = 256 * 1024;
