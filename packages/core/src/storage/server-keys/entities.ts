import { EntitySchema } from 'typeorm';

/** One random key per purpose, made on first use when no secrets.keyFile is configured. */
export interface ServerKeyRow {
  purpose: string;
  /** Base64 of 32 random bytes. */
  value: string;
  createdAt: number;
}

export const ServerKeyEntity = new EntitySchema<ServerKeyRow>({
  name: 'ServerKey',
  tableName: 'server_keys',
  columns: {
    purpose: { type: 'varchar', length: 64, primary: true },
    value: { type: 'varchar', length: 64 },
    createdAt: { type: 'bigint', name: 'created_at' },
  },
});

export const SERVER_KEY_ENTITIES = [ServerKeyEntity];
