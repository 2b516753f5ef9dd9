/** Schemas shared by many routes. */
import { Type } from '@sinclair/typebox';

export const ErrorResponse = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String() }) },
  { $id: undefined, description: 'Every 4xx/5xx body' },
);

export const Uuid = Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' });
export const IdParams = Type.Object({ id: Uuid });

export const ChannelSchema = Type.Union([Type.Literal('voice'), Type.Literal('sms'), Type.Literal('email'), Type.Literal('chat')]);
