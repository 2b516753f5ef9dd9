/** Agent replies on an SMS conversation: an outbox row in the reply's transaction, a job after commit. */
import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { AppError } from '../../platform/errors';
import type { InteractionRecord } from '../../interactions/events.types';
import type { OutboundChannel } from '../../agents/work.service';
import { insertOutbox } from '../outbox/outbox.repository';
import type { Outbox } from '../outbox/outbox.service';
import { MAX_SMS_BODY } from './sms.mapper';

export function smsOutbound(outbox: Outbox): OutboundChannel {
  return {
    async prepare(tx: PoolClient, interaction: InteractionRecord, text: string) {
      const to = interaction.attributes.customerAddress;
      const from = interaction.attributes.ourAddress;
      if (typeof to !== 'string' || typeof from !== 'string') throw new AppError('SB_INVALID_STATE', `interaction ${interaction.id} has no SMS addresses`);
      if (text.length > MAX_SMS_BODY) throw new AppError('SB_MESSAGE_TOO_LONG', `an SMS reply may have at most ${MAX_SMS_BODY} characters`);
      const id = randomUUID();
      await insertOutbox(tx, { id, interactionId: interaction.id, channel: 'sms', to, from, body: text });
      return { outboxId: id };
    },
    dispatch: (outboxId) => outbox.enqueue(outboxId),
  };
}
