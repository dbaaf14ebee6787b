/**
 * Recorded payloads for every Baileys event capture maps besides plain `messages.upsert`
 * (those are in record-fixtures.ts), built with Baileys' own types and proto classes so each
 * has exactly the shape Baileys 7 emits. Where Baileys derives one event from another (a revoke
 * upserted as a protocol message and then reported in `messages.update`), both are recorded as
 * Baileys' process-message.ts builds them, so tests can show the pair lands on one event id.
 */
import {
  proto,
  WAMessageAddressingMode,
  WAMessageStatus,
  WAMessageStubType,
  type BaileysEventMap,
  type WAMessage,
  type WAMessageKey,
} from '@whiskeysockets/baileys';

// People and chats, shared with record-fixtures.ts's cases. LIDs and phone numbers are made up.
export const ANA = { lid: '118407353102339@lid', pn: '15551230001@s.whatsapp.net' };
export const BRUNO = { lid: '204710157602887@lid', pn: '15551230002@s.whatsapp.net' };
export const CARLA = { lid: '301122334455667@lid', pn: '15551230003@s.whatsapp.net' };
export const ME = { lid: '99887766554433@lid', pn: '15559990000@s.whatsapp.net' };
export const GROUP = '120363025246125486@g.us';
export const T0 = 1_767_225_600; // 2026-01-01T00:00:00Z

export interface EventCase<K extends keyof BaileysEventMap = keyof BaileysEventMap> {
  name: string;
  description: string;
  event: K;
  payload: BaileysEventMap[K];
}

/** Keeps `event` and `payload` checked against each other while building the list. */
function on<K extends keyof BaileysEventMap>(
  name: string,
  description: string,
  event: K,
  payload: BaileysEventMap[K],
): EventCase {
  return { name, description, event, payload };
}

/** Baileys does not export its LabelAssociationType enum; its values are these strings. */
type Association = BaileysEventMap['labels.association']['association'];
type ChatAssociation = Exclude<Association, { messageId: string }>;
type MessageAssociation = Extract<Association, { messageId: string }>;

function content(fields: proto.IMessage): proto.Message {
  return proto.Message.fromObject(fields);
}

// Messages referred to by several cases.
const ANA_MESSAGE: WAMessageKey = { remoteJid: ANA.lid, remoteJidAlt: ANA.pn, fromMe: false, id: '3EB0A1B2C3D4E5F60001', addressingMode: 'lid' };
const OUR_REPLY: WAMessageKey = { remoteJid: ANA.pn, remoteJidAlt: ANA.lid, fromMe: true, id: '3EB0A1B2C3D4E5F60002', addressingMode: 'pn' };
const OUR_GROUP_MESSAGE: WAMessageKey = { remoteJid: GROUP, fromMe: true, id: '3EB0C0FFEE0000000001', participant: ME.lid, addressingMode: 'lid' };

const REVOKE: WAMessage = {
  key: { remoteJid: ANA.lid, remoteJidAlt: ANA.pn, fromMe: false, id: '3EB0A1B2C3D4E5F60101', addressingMode: 'lid' },
  messageTimestamp: T0 + 300,
  message: content({
    protocolMessage: { type: proto.Message.ProtocolMessage.Type.REVOKE, key: { remoteJid: ANA.lid, fromMe: true, id: ANA_MESSAGE.id } },
  }),
};

const EDITED_CONTENT: proto.IMessage = { conversation: 'Olá! Is my order ready yet?' };
const EDIT_AT_MS = (T0 + 30) * 1000 + 250;
const EDIT: WAMessage = {
  key: { remoteJid: ANA.lid, remoteJidAlt: ANA.pn, fromMe: false, id: '3EB0A1B2C3D4E5F60102', addressingMode: 'lid' },
  messageTimestamp: T0 + 30,
  message: content({
    editedMessage: {
      message: {
        protocolMessage: {
          type: proto.Message.ProtocolMessage.Type.MESSAGE_EDIT,
          key: { remoteJid: ANA.lid, fromMe: true, id: ANA_MESSAGE.id },
          editedMessage: EDITED_CONTENT,
          timestampMs: EDIT_AT_MS,
        },
      },
    },
  }),
};

// A reaction as upserted: Baileys' cleanMessage has already turned the target key to our
// perspective (fromMe, and the chat as the reaction's chat).
const REACTION_TARGET: WAMessageKey = { remoteJid: ANA.lid, fromMe: true, id: OUR_REPLY.id };
const REACTION_UPSERT: WAMessage = {
  key: { remoteJid: ANA.lid, remoteJidAlt: ANA.pn, fromMe: false, id: '3EB0A1B2C3D4E5F60201', addressingMode: 'lid' },
  messageTimestamp: T0 + 90,
  message: content({
    reactionMessage: { key: REACTION_TARGET, text: '👍', senderTimestampMs: (T0 + 90) * 1000 },
  }),
};

export function buildEventCases(): EventCase[] {
  return [
    on('revoke-upsert', 'Ana revokes her message for everyone: the REVOKE protocol message as upserted', 'messages.upsert', { type: 'notify', messages: [REVOKE] }),
    on('revoke-update', 'The messages.update Baileys derives from that revoke (process-message.ts)', 'messages.update', [
      { key: { ...REVOKE.key, id: ANA_MESSAGE.id }, update: { message: null, messageStubType: WAMessageStubType.REVOKE, key: REVOKE.key } },
    ]),
    on('edit-upsert', 'Ana edits her message: MESSAGE_EDIT wrapped in editedMessage, as upserted', 'messages.upsert', { type: 'notify', messages: [EDIT] }),
    on('edit-update', 'The messages.update Baileys derives from that edit (timestampMs rounded to seconds)', 'messages.update', [
      {
        key: { ...EDIT.key, id: ANA_MESSAGE.id },
        update: { message: { editedMessage: { message: EDITED_CONTENT } }, messageTimestamp: Math.floor(EDIT_AT_MS / 1000) },
      },
    ]),
    on('reaction-upsert', 'Ana reacts 👍 to our reply: the reaction message as upserted', 'messages.upsert', { type: 'notify', messages: [REACTION_UPSERT] }),
    on('reactions', 'messages.reaction: the same 👍 (as Baileys reports it), then Ana removing it (empty text)', 'messages.reaction', [
      { key: REACTION_TARGET, reaction: { ...REACTION_UPSERT.message?.reactionMessage, key: REACTION_UPSERT.key } },
      {
        key: REACTION_TARGET,
        reaction: { key: { ...REACTION_UPSERT.key, id: '3EB0A1B2C3D4E5F60202' }, text: '', senderTimestampMs: (T0 + 95) * 1000 },
      },
    ]),
    on('status-updates', '1:1 receipts of our reply (delivered, read) and a played voice note, as messages.update', 'messages.update', [
      { key: OUR_REPLY, update: { status: WAMessageStatus.DELIVERY_ACK, messageTimestamp: T0 + 61 } },
      { key: OUR_REPLY, update: { status: WAMessageStatus.READ, messageTimestamp: T0 + 62 } },
      { key: { ...OUR_REPLY, id: '3EB0A1B2C3D4E5F60003' }, update: { status: WAMessageStatus.PLAYED, messageTimestamp: T0 + 63 } },
    ]),
    on('other-update', 'A message update with no event type (starred): skipped', 'messages.update', [{ key: ANA_MESSAGE, update: { starred: true } }]),
    on('group-receipts', 'Per-member receipts of our group message: Bruno delivered, Carla delivered and read (merged by the buffer)', 'message-receipt.update', [
      { key: OUR_GROUP_MESSAGE, receipt: { userJid: BRUNO.lid, receiptTimestamp: T0 + 401 } },
      { key: OUR_GROUP_MESSAGE, receipt: { userJid: CARLA.lid, receiptTimestamp: T0 + 402, readTimestamp: T0 + 410 } },
    ]),
    on('delete-for-me', 'A message deleted on our devices only (app-state deleteMessageForMe)', 'messages.delete', {
      keys: [{ remoteJid: ANA.lid, id: '3EB0A1B2C3D4E5F60003', fromMe: false }],
    }),
    on('chat-cleared', 'Every message of a chat deleted for us', 'messages.delete', { jid: BRUNO.pn, all: true }),
    on('presence', 'Group presence: Bruno typing, Carla recording', 'presence.update', {
      id: GROUP,
      presences: { [BRUNO.lid]: { lastKnownPresence: 'composing' }, [CARLA.lid]: { lastKnownPresence: 'recording' } },
    }),
    on('presence-last-seen', '1:1 presence: Ana went offline, with last seen', 'presence.update', {
      id: ANA.lid,
      presences: { [ANA.lid]: { lastKnownPresence: 'unavailable', lastSeen: T0 + 500 } },
    }),
    on('chats-upsert', 'A 1:1 chat (LID with its PN) and a group chat', 'chats.upsert', [
      {
        id: ANA.lid,
        pnJid: ANA.pn,
        name: 'Ana',
        unreadCount: 2,
        conversationTimestamp: T0 + 60,
        lastMessageRecvTimestamp: T0,
        archived: false,
        tcToken: new Uint8Array([1, 2, 3]),
      },
      { id: GROUP, name: 'Team', unreadCount: 0, conversationTimestamp: T0 + 120, ephemeralExpiration: 604_800 },
    ]),
    on('chats-update', 'Archive, mark read, pin (app-state sync) and a mute', 'chats.update', [
      { id: ANA.lid, archived: true },
      { id: GROUP, unreadCount: 0 },
      { id: BRUNO.pn, pinned: (T0 + 700) * 1000 },
      { id: CARLA.pn, muteEndTime: T0 + 86_400 },
    ]),
    on('chats-delete', 'A chat deleted (app-state deleteChat)', 'chats.delete', [CARLA.pn]),
    on('contacts-upsert', 'Address-book contacts: LID-first with the PN, and PN-only', 'contacts.upsert', [
      { id: ANA.lid, lid: ANA.lid, phoneNumber: ANA.pn, name: 'Ana Souza', notify: 'Ana' },
      { id: BRUNO.pn, name: 'Bruno', verifiedName: 'Bruno Bikes', status: 'At work' },
    ]),
    on('contacts-update', 'A push name (sent with every message Ana sends) and a changed picture', 'contacts.update', [
      { id: ANA.lid, notify: 'Ana S.' },
      { id: BRUNO.pn, imgUrl: 'changed' },
    ]),
    on('groups-upsert', 'Group metadata as fetched: LID addressing, owner with PN, admins', 'groups.upsert', [
      {
        id: GROUP,
        addressingMode: WAMessageAddressingMode.LID,
        owner: ANA.lid,
        ownerPn: ANA.pn,
        subject: 'Team',
        subjectOwner: ANA.lid,
        subjectOwnerPn: ANA.pn,
        subjectTime: T0 - 3_600,
        creation: T0 - 86_400,
        desc: 'Lunch and deploys',
        descId: 'DESC0001',
        restrict: false,
        announce: false,
        joinApprovalMode: true,
        size: 3,
        ephemeralDuration: 604_800,
        participants: [
          { id: ANA.lid, phoneNumber: ANA.pn, admin: 'superadmin' },
          { id: BRUNO.lid, phoneNumber: BRUNO.pn, admin: 'admin' },
          { id: ME.lid, phoneNumber: ME.pn, admin: null },
        ],
      },
    ]),
    on('groups-update', 'Ana makes the group announce-only (from the stub, with the author)', 'groups.update', [
      { id: GROUP, announce: true, author: ANA.lid, authorPn: ANA.pn },
    ]),
    ...(['add', 'remove', 'promote', 'demote', 'modify'] as const).map((action) =>
      on(`participants-${action}`, `group-participants.update: ${action}`, 'group-participants.update', {
        id: GROUP,
        author: ANA.lid,
        authorPn: ANA.pn,
        participants: [{ id: CARLA.lid, phoneNumber: CARLA.pn, admin: action === 'promote' ? 'admin' : null }],
        action,
      }),
    ),
    on('join-request', 'Carla asks to join through an invite link', 'group.join-request', {
      id: GROUP,
      author: CARLA.lid,
      authorPn: CARLA.pn,
      participant: CARLA.lid,
      participantPn: CARLA.pn,
      action: 'created',
      method: 'invite_link',
    }),
    ...(['offer', 'ringing', 'accept', 'reject', 'timeout', 'terminate'] as const).map((status, i) =>
      on(`call-${status}`, `call: ${status}${status === 'ringing' ? ' (signalling, skipped)' : ''}`, 'call', [
        {
          chatId: ANA.lid,
          from: ANA.lid,
          callerPn: ANA.pn,
          id: `CALL${status === 'offer' || status === 'ringing' || status === 'accept' || status === 'terminate' ? 'A' : 'B'}0000000000000001`,
          date: new Date((T0 + 1_000 + i) * 1000),
          offline: false,
          status,
          ...(status === 'offer' ? { isVideo: true, isGroup: false } : {}),
        },
      ]),
    ),
    on('label-edit', 'A business label created', 'labels.edit', { id: '5', name: 'New order', color: 3, deleted: false, predefinedId: '2' }),
    on('label-chat-add', 'The label put on a chat', 'labels.association', {
      type: 'add',
      association: { type: 'label_jid' as ChatAssociation['type'], chatId: ANA.lid, labelId: '5' },
    }),
    on('label-message-remove', 'The label taken off a message', 'labels.association', {
      type: 'remove',
      association: { type: 'label_message' as MessageAssociation['type'], chatId: ANA.lid, messageId: ANA_MESSAGE.id ?? '', labelId: '5' },
    }),
    on('blocklist-set', 'The blocklist as fetched on connect', 'blocklist.set', { blocklist: [CARLA.pn] }),
    on('blocklist-update', 'Bruno blocked', 'blocklist.update', { blocklist: [BRUNO.pn], type: 'add' }),
    on('lid-mapping', 'WhatsApp reveals Carla’s phone number for her LID', 'lid-mapping.update', { lid: CARLA.lid, pn: CARLA.pn }),
    on('history-set', 'An initial-bootstrap history chunk: chats, contacts, messages (one a stub, left out) and LID↔PN pairs', 'messaging-history.set', {
      syncType: proto.HistorySync.HistorySyncType.INITIAL_BOOTSTRAP,
      progress: 40,
      chunkOrder: 1,
      isLatest: true,
      chats: [
        { id: ANA.lid, pnJid: ANA.pn, name: 'Ana', unreadCount: 0, conversationTimestamp: T0 - 100 },
        { id: GROUP, name: 'Team', conversationTimestamp: T0 - 200 },
      ],
      contacts: [{ id: ANA.lid, phoneNumber: ANA.pn, notify: 'Ana' }],
      messages: [
        {
          key: { remoteJid: ANA.lid, remoteJidAlt: ANA.pn, fromMe: false, id: '3EB0HIST000000000001' },
          messageTimestamp: T0 - 100,
          pushName: 'Ana',
          status: WAMessageStatus.READ,
          message: content({ conversation: 'From last week' }),
        },
        {
          key: { remoteJid: ANA.lid, fromMe: true, id: '3EB0HIST000000000002' },
          messageTimestamp: T0 - 90,
          message: content({ extendedTextMessage: { text: 'Noted!' } }),
        },
        {
          key: { remoteJid: GROUP, fromMe: false, id: '3EB0HIST000000000003', participant: BRUNO.lid },
          messageTimestamp: T0 - 200,
          messageStubType: WAMessageStubType.GROUP_CREATE,
          messageStubParameters: ['Team'],
        },
      ],
      lidPnMappings: [{ lid: ANA.lid, pn: ANA.pn }, { lid: BRUNO.lid, pn: BRUNO.pn }],
    }),
  ];
}
