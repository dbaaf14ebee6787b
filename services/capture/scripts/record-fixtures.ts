/**
 * Regenerates test/fixtures/baileys/messages-upsert.json (and the encrypted media blobs beside it)
 * and test/fixtures/baileys/events.json (every other event kind capture maps, event-cases.ts)
 * from Baileys' own proto classes and media encryption, so the fixtures have exactly the shapes
 * Baileys 7 emits:
 *
 *   pnpm --filter @switchyard/capture exec tsx scripts/record-fixtures.ts
 *
 * Message content is a `proto.Message` and the key a plain object, as in a live upsert
 * (Baileys' decodeMessageNode builds the key by hand, which is where `remoteJidAlt`,
 * `participantAlt` and `addressingMode` live). Media keys and hashes come from `encryptedStream`,
 * so the media service can decrypt the `.enc` blobs with them. Each run draws new media keys.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import {
  BufferJSON,
  encryptedStream,
  proto,
  type MessageUpsertType,
  type WAMessage,
} from '@whiskeysockets/baileys';
import { pino } from 'pino';
import { ANA, BRUNO, buildEventCases, GROUP, T0, type EventCase } from './event-cases.ts';

const OUT_DIR = new URL('../../../test/fixtures/baileys/', import.meta.url);
const MEDIA_DIR = new URL('media/', OUT_DIR);
const logger = pino({ level: 'silent' });


// A valid 1x1 PNG, and a tiny PDF, as the plaintext blobs.
const PNG_1X1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);
const PDF = Buffer.from('%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n');

interface FixtureCase {
  name: string;
  description: string;
  upsert: { type: MessageUpsertType; messages: WAMessage[] };
}

/** Encrypts a blob as WhatsApp media, keeps the ciphertext as a fixture, returns the message fields. */
async function encryptMedia(name: string, blob: Buffer, mediaType: 'image' | 'document') {
  const enc = await encryptedStream(blob, mediaType, { logger });
  await writeFile(new URL(`${name}.enc`, MEDIA_DIR), await readFile(enc.encFilePath));
  await rm(enc.encFilePath, { force: true });
  const directPath = `/v/t62.7118-24/${name}.enc?ccb=11-4&oh=fixture&oe=00000000`;
  return {
    mediaKey: enc.mediaKey,
    fileSha256: enc.fileSha256,
    fileEncSha256: enc.fileEncSha256,
    fileLength: enc.fileLength,
    directPath,
    url: `https://mmg.whatsapp.net${directPath}&mms3=true`,
    mediaKeyTimestamp: T0,
  };
}

/** A real proto.Message; typing the argument as IMessage makes a misspelt field a compile error. */
function content(fields: proto.IMessage): proto.Message {
  return proto.Message.fromObject(fields);
}

async function buildCases(): Promise<FixtureCase[]> {
  const image = await encryptMedia('image-received', PNG_1X1, 'image');
  const pdf = await encryptMedia('document-received', PDF, 'document');
  return [
    {
      name: 'text-received-lid',
      description:
        '1:1 text from a contact addressed by LID, with the phone-number JID as remoteJidAlt',
      upsert: {
        type: 'notify',
        messages: [
          {
            key: {
              remoteJid: ANA.lid,
              remoteJidAlt: ANA.pn,
              fromMe: false,
              id: '3EB0A1B2C3D4E5F60001',
              addressingMode: 'lid',
            },
            messageTimestamp: T0,
            pushName: 'Ana',
            message: content({ conversation: 'Olá! Is my order ready?' }),
          },
        ],
      },
    },
    {
      name: 'text-sent-own-device',
      description:
        'A reply sent from our own phone: fromMe, PN-addressed with the LID as alt, Long timestamp',
      upsert: {
        type: 'notify',
        messages: [
          {
            key: {
              remoteJid: ANA.pn,
              remoteJidAlt: ANA.lid,
              fromMe: true,
              id: '3EB0A1B2C3D4E5F60002',
              addressingMode: 'pn',
            },
            // History and proto-built messages carry int64 fields as Long, not number.
            messageTimestamp:
              proto.WebMessageInfo.fromObject({ messageTimestamp: T0 + 60 }).messageTimestamp ??
              null,
            status: proto.WebMessageInfo.Status.SERVER_ACK,
            message: content({
              extendedTextMessage: {
                text: 'Yes, it ships today.',
                contextInfo: {
                  stanzaId: '3EB0A1B2C3D4E5F60001',
                  participant: ANA.lid,
                  quotedMessage: { conversation: 'Olá! Is my order ready?' },
                },
              },
            }),
          },
        ],
      },
    },
    {
      name: 'group-message-participant',
      description:
        'Group text (disappearing: wrapped in ephemeralMessage) whose author is participant (LID) + participantAlt (PN)',
      upsert: {
        type: 'notify',
        messages: [
          {
            key: {
              remoteJid: GROUP,
              fromMe: false,
              id: 'ACD4B7E1F2A3B4C5D6E7',
              participant: BRUNO.lid,
              participantAlt: BRUNO.pn,
              addressingMode: 'lid',
            },
            messageTimestamp: T0 + 120,
            pushName: 'Bruno',
            message: content({
              ephemeralMessage: {
                message: {
                  extendedTextMessage: {
                    text: 'Team lunch at 1pm?',
                    contextInfo: { expiration: 604_800 },
                  },
                },
              },
            }),
          },
        ],
      },
    },
    {
      name: 'image-received',
      description:
        'Image with caption; media key and hashes from Baileys encryptedStream (blob in media/image-received.enc)',
      upsert: {
        type: 'notify',
        messages: [
          {
            key: {
              remoteJid: ANA.lid,
              remoteJidAlt: ANA.pn,
              fromMe: false,
              id: '3EB0A1B2C3D4E5F60003',
              addressingMode: 'lid',
            },
            messageTimestamp: T0 + 180,
            pushName: 'Ana',
            message: content({
              imageMessage: {
                ...image,
                mimetype: 'image/png',
                caption: 'Receipt',
                width: 1,
                height: 1,
              },
            }),
          },
        ],
      },
    },
    {
      name: 'document-received',
      description:
        'PDF with caption, wrapped in documentWithCaptionMessage (blob in media/document-received.enc)',
      upsert: {
        type: 'notify',
        messages: [
          {
            key: {
              remoteJid: BRUNO.pn,
              remoteJidAlt: BRUNO.lid,
              fromMe: false,
              id: '3EB0A1B2C3D4E5F60004',
              addressingMode: 'pn',
            },
            messageTimestamp: T0 + 240,
            pushName: 'Bruno',
            message: content({
              documentWithCaptionMessage: {
                message: {
                  documentMessage: {
                    ...pdf,
                    mimetype: 'application/pdf',
                    fileName: 'invoice-2026-001.pdf',
                    caption: 'Invoice attached',
                    pageCount: 1,
                  },
                },
              },
            }),
          },
        ],
      },
    },
    {
      name: 'append-history',
      description:
        'An append upsert (messages WhatsApp appends, e.g. from history or another device), PN-only addressing',
      upsert: {
        type: 'append',
        messages: [
          {
            key: {
              remoteJid: BRUNO.pn,
              fromMe: false,
              id: '3EB0A1B2C3D4E5F60005',
              addressingMode: 'pn',
            },
            messageTimestamp: T0 - 86_400,
            pushName: 'Bruno',
            message: content({ conversation: 'Sent yesterday' }),
          },
        ],
      },
    },
    {
      name: 'skipped-control',
      description:
        'Messages that produce no event: a disappearing-timer protocolMessage (Baileys reports it as chats.update), a stub-only group notice (reported as group-participants.update), a key without id',
      upsert: {
        type: 'notify',
        messages: [
          {
            key: {
              remoteJid: ANA.lid,
              remoteJidAlt: ANA.pn,
              fromMe: false,
              id: '3EB0A1B2C3D4E5F60006',
              addressingMode: 'lid',
            },
            messageTimestamp: T0 + 300,
            message: content({
              protocolMessage: {
                type: proto.Message.ProtocolMessage.Type.EPHEMERAL_SETTING,
                ephemeralExpiration: 604_800,
              },
            }),
          },
          {
            key: {
              remoteJid: GROUP,
              fromMe: false,
              id: 'ACD4B7E1F2A3B4C5D6E8',
              participant: BRUNO.lid,
            },
            messageTimestamp: T0 + 310,
            messageStubType: proto.WebMessageInfo.StubType.GROUP_PARTICIPANT_ADD,
            messageStubParameters: [ANA.lid],
          },
          {
            key: { remoteJid: ANA.lid, fromMe: false },
            messageTimestamp: T0 + 320,
            message: content({ conversation: 'no id' }),
          },
        ],
      },
    },
  ];
}

/**
 * proto instances serialise through their own toJSON (bytes as bare base64, enums as names);
 * converting them to plain objects first makes BufferJSON write every bytes field the same way.
 */
function plain(message: WAMessage): unknown {
  return {
    ...message,
    ...(message.message
      ? { message: proto.Message.toObject(proto.Message.fromObject(message.message)) }
      : {}),
  };
}

await mkdir(MEDIA_DIR, { recursive: true });
const cases = await buildCases();
const fixture = {
  generated_by: 'services/capture/scripts/record-fixtures.ts',
  baileys_version: '7.0.0-rc14',
  cases: cases.map((c) => ({
    ...c,
    upsert: { ...c.upsert, messages: c.upsert.messages.map(plain) },
  })),
};
await writeFile(
  new URL('messages-upsert.json', OUT_DIR),
  `${JSON.stringify(fixture, BufferJSON.replacer, 2)}\n`,
);
console.log(`wrote ${cases.length} cases to ${new URL('messages-upsert.json', OUT_DIR).pathname}`);

/** Messages inside event payloads go through `plain` too, for the same reason. */
function plainPayload(c: EventCase): unknown {
  if (c.event === 'messages.upsert' || c.event === 'messaging-history.set') {
    const payload = c.payload as { messages: WAMessage[] };
    return { ...payload, messages: payload.messages.map(plain) };
  }
  return c.payload;
}

const eventCases = buildEventCases();
const eventsFixture = {
  generated_by: 'services/capture/scripts/record-fixtures.ts',
  baileys_version: '7.0.0-rc14',
  cases: eventCases.map((c) => ({ ...c, payload: plainPayload(c) })),
};
await writeFile(
  new URL('events.json', OUT_DIR),
  `${JSON.stringify(eventsFixture, BufferJSON.replacer, 2)}\n`,
);
console.log(`wrote ${eventCases.length} cases to ${new URL('events.json', OUT_DIR).pathname}`);
