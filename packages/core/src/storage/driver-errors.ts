import { ConflictError, InvalidInputError, PalabreError, UnavailableError } from '../errors.js';

/**
 * Turn whatever SQLite, PostgreSQL or TypeORM threw into a typed error. Nothing driver-specific (SQL,
 * constraint names, file paths) goes into the message; the original stays as `cause` for the logs.
 */
export function toStorageError(error: unknown, what = 'storage operation'): PalabreError {
  if (error instanceof PalabreError) return error;
  const driver = (error as { driverError?: unknown })?.driverError ?? error;
  const code = String((driver as { code?: unknown })?.code ?? '');
  const message = String((driver as { message?: unknown })?.message ?? '');

  if (code.startsWith('SQLITE_')) {
    if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
      return new ConflictError(`${what}: already exists`, { cause: error });
    }
    if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
      return new ConflictError(`${what}: still referenced or refers to something missing`, { cause: error });
    }
    if (code.startsWith('SQLITE_CONSTRAINT')) return new InvalidInputError(`${what}: constraint violated`, { cause: error });
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code.startsWith('SQLITE_BUSY')) {
      return new UnavailableError(`${what}: database busy`, { cause: error });
    }
    if (code === 'SQLITE_FULL') return new UnavailableError(`${what}: disk full`, { cause: error, retryable: false });
    if (code === 'SQLITE_TOOBIG') return new InvalidInputError(`${what}: value too large`, { cause: error });
    return new UnavailableError(`${what}: database error`, { cause: error, retryable: false });
  }

  if (/^[0-9A-Z]{5}$/.test(code)) {
    // PostgreSQL SQLSTATE classes (Appendix A of the PostgreSQL manual).
    if (code === '23505') return new ConflictError(`${what}: already exists`, { cause: error });
    if (code === '23503') return new ConflictError(`${what}: still referenced or refers to something missing`, { cause: error });
    if (code.startsWith('23')) return new InvalidInputError(`${what}: constraint violated`, { cause: error });
    if (code === '40001' || code === '40P01' || code === '55P03') {
      return new ConflictError(`${what}: concurrent update, retry`, { cause: error, retryable: true });
    }
    if (code.startsWith('22')) return new InvalidInputError(`${what}: invalid value`, { cause: error });
    if (code === '53100') return new UnavailableError(`${what}: disk full`, { cause: error, retryable: false });
    if (code.startsWith('08') || code.startsWith('57') || code.startsWith('53')) {
      return new UnavailableError(`${what}: database unavailable`, { cause: error });
    }
    return new UnavailableError(`${what}: database error`, { cause: error, retryable: false });
  }

  if (/ECONNREFUSED|ECONNRESET|ETIMEDOUT|Connection terminated|timeout exceeded when trying to connect/i.test(code + ' ' + message)) {
    return new UnavailableError(`${what}: database unreachable`, { cause: error });
  }
  return new PalabreError('internal', `${what} failed`, { cause: error, retryable: false });
}
