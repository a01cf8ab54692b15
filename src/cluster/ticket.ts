/**
 * The prediction request as it travels from a coordinator to an ML node: the Flight `DoGet`
 * ticket (streams) and the `DoAction` body (non-streaming predict). JSON, versioned, so any Flight
 * client can build one: `{"v":1,"model_id":"…","parameters":{…},"text_docs":[…]}`.
 */
import { badRequest } from '../domain/errors.ts';
import type { PredictBody } from '../predict/prepare.ts';

export interface PredictionTicket {
  modelId: string;
  body: PredictBody;
}

export const predictAction = 'sluice.predict';

export function encodeTicket(ticket: PredictionTicket): Uint8Array {
  const json: Record<string, unknown> = {
    v: 1,
    model_id: ticket.modelId,
    parameters: ticket.body.parameters,
  };
  if (ticket.body.textDocs !== undefined) json['text_docs'] = ticket.body.textDocs;
  return Buffer.from(JSON.stringify(json), 'utf8');
}

export function decodeTicket(bytes: Uint8Array): PredictionTicket {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw badRequest('The ticket is not a Sluice prediction request (invalid JSON)');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw badRequest('The ticket is not a Sluice prediction request');
  }
  const input = parsed as Record<string, unknown>;
  const modelId = input['model_id'];
  const parameters = input['parameters'] ?? {};
  const textDocs = input['text_docs'];
  if (input['v'] !== 1 || typeof modelId !== 'string' || modelId === '') {
    throw badRequest('The ticket needs "v": 1 and a "model_id"');
  }
  if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters)) {
    throw badRequest('The ticket\'s "parameters" must be an object');
  }
  if (
    textDocs !== undefined &&
    (!Array.isArray(textDocs) || !textDocs.every((doc) => typeof doc === 'string'))
  ) {
    throw badRequest('The ticket\'s "text_docs" must be a list of strings');
  }
  return {
    modelId,
    body: {
      parameters: parameters as Record<string, unknown>,
      textDocs: textDocs as string[] | undefined,
    },
  };
}
