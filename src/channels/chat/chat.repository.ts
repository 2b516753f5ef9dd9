import type { Queryable } from '../../platform/db';

export async function findOpenConversationId(db: Queryable, key: string): Promise<string | null> {
  const { rows } = await db.query<{ id: string }>(`SELECT id FROM interactions WHERE conversation_key = $1 AND state <> 'closed'`, [key]);
  return rows[0]?.id ?? null;
}
