import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { checkConfig, type PalabreConfig } from '@palabre/core';
import { UsageError } from './args.js';

export interface ConfigSources {
  /** --data */
  data?: string;
  /** --config */
  config?: string;
  /** Flags that override everything (already in config shape). */
  overrides?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

function merge(target: Record<string, unknown>, source: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(source)) {
    if (value === undefined) continue;
    if (value && typeof value === 'object' && !Array.isArray(value) && target[key] && typeof target[key] === 'object') {
      target[key] = merge({ ...(target[key] as Record<string, unknown>) }, value as Record<string, unknown>);
    } else {
      target[key] = value;
    }
  }
  return target;
}

const envPort = (env: NodeJS.ProcessEnv, name: string): number | undefined => {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${name} must be a port number (0-65535), got ${JSON.stringify(raw)}`);
  return n;
};

/**
 * Configuration, highest precedence first: command-line flags, environment (DATABASE_URL, PALABRE_*,
 * PALABRE_S3_SECRET_ACCESS_KEY),
 * the JSON config file (--config, PALABRE_CONFIG, or palabre.json in the data folder), defaults.
 */
export function loadConfig(sources: ConfigSources = {}): PalabreConfig {
  const env = sources.env ?? process.env;
  const cwd = sources.cwd ?? process.cwd();
  const dataDir = resolve(cwd, sources.data ?? env.PALABRE_DATA ?? './data');
  const file = sources.config ?? (env.PALABRE_CONFIG || undefined) ?? (existsSync(join(dataDir, 'palabre.json')) ? join(dataDir, 'palabre.json') : undefined);
  let fromFile: Record<string, unknown> = {};
  if (file) {
    const path = isAbsolute(file) ? file : resolve(cwd, file);
    try {
      fromFile = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new UsageError(`cannot read config file ${path}: ${(error as Error).message}`);
    }
  }
  const fromEnv: Record<string, unknown> = {
    databaseUrl: env.DATABASE_URL || undefined,
    hostname: env.PALABRE_HOSTNAME || undefined,
    host: env.PALABRE_HOST || undefined,
    ports: {
      http: envPort(env, 'PALABRE_HTTP_PORT'),
      smtp: envPort(env, 'PALABRE_SMTP_PORT'),
      submission: envPort(env, 'PALABRE_SUBMISSION_PORT'),
      imap: envPort(env, 'PALABRE_IMAP_PORT'),
    },
    admin: { port: envPort(env, 'PALABRE_ADMIN_PORT') },
  };
  const merged = merge(merge(merge({}, fromFile), fromEnv), { ...(sources.overrides ?? {}), dataDir });
  // The S3 secret key from the environment (a systemd credential, a container secret), where an S3
  // section exists to take it: it then never sits in the config file.
  const s3 = (merged.blobs as { s3?: Record<string, unknown> } | undefined)?.s3;
  if (s3 && typeof s3 === 'object' && env.PALABRE_S3_SECRET_ACCESS_KEY) s3.secretAccessKey = env.PALABRE_S3_SECRET_ACCESS_KEY;
  const parsed = checkConfig(merged);
  if (!parsed.success) throw new UsageError(`invalid configuration: ${parsed.problems.join('; ')}`);
  return parsed.config;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.test(host);
}

/**
 * Plaintext passwords are allowed only for local development: when configured explicitly, or when the
 * server listens on loopback only (then only loopback clients can reach it anyway).
 */
export function insecureAuthAllowed(config: PalabreConfig): boolean {
  return config.allowInsecureAuth || isLoopbackHost(config.host);
}
