import type { BaileysEventMap, GroupMetadata, GroupParticipant } from '@whiskeysockets/baileys';
import type { EventData } from '@switchyard/schema';
import { toRawJson } from '../raw-message.ts';
import { readString, readUint, readUnixSecondsAsIso } from '../wa-readers.ts';
import { addressOf } from './address.ts';
import { contentHash } from './content-hash.ts';
import { eventIdOf, randomEventId } from './event-ids.ts';
import { makeEvent, setIf, type MapContext, type MapSink } from './map-context.ts';
import { readBool } from './readers.ts';

type GroupData = EventData<'group.updated'>;
type Participant = EventData<'group.participants_added'>['participants'][number];

function participantOf(participant: Partial<GroupParticipant>): Participant | undefined {
  const address = addressOf(participant.id, participant.phoneNumber, participant.lid);
  if (address.jid === undefined) return undefined;
  const out: Participant = { jid: address.jid };
  setIf(out, 'lid', address.lid);
  if (participant.admin !== undefined) out.admin = participant.admin;
  else if (participant.isSuperAdmin === true) out.admin = 'superadmin';
  else if (participant.isAdmin === true) out.admin = 'admin';
  return out;
}

function participantsOf(participants: ReadonlyArray<Partial<GroupParticipant>>): Participant[] {
  return participants.map(participantOf).filter((p): p is Participant => p !== undefined);
}

/** Group metadata (full or partial) as event data; undefined without a group id. */
export function groupData(group: Partial<GroupMetadata>): GroupData | undefined {
  const groupJid = readString(group.id);
  if (groupJid === undefined) return undefined;
  const data: GroupData = { group_jid: groupJid };
  setIf(data, 'subject', readString(group.subject)?.slice(0, 1024));
  const subjectOwner = addressOf(group.subjectOwner, group.subjectOwnerPn);
  setIf(data, 'subject_owner_jid', subjectOwner.jid);
  setIf(data, 'subject_owner_lid', subjectOwner.lid);
  setIf(data, 'subject_time', readUnixSecondsAsIso(group.subjectTime));
  const owner = addressOf(group.owner, group.ownerPn);
  setIf(data, 'owner_jid', owner.jid);
  setIf(data, 'owner_lid', owner.lid);
  setIf(data, 'created_at', readUnixSecondsAsIso(group.creation));
  setIf(data, 'description', readString(group.desc));
  setIf(data, 'description_id', readString(group.descId));
  setIf(data, 'restrict', readBool(group.restrict));
  setIf(data, 'announce', readBool(group.announce));
  setIf(data, 'member_add_mode', readBool(group.memberAddMode));
  setIf(data, 'join_approval_mode', readBool(group.joinApprovalMode));
  setIf(data, 'is_community', readBool(group.isCommunity));
  setIf(data, 'is_community_announce', readBool(group.isCommunityAnnounce));
  setIf(data, 'linked_parent_jid', readString(group.linkedParent));
  setIf(data, 'size', readUint(group.size));
  setIf(data, 'ephemeral_duration', readUint(group.ephemeralDuration));
  setIf(data, 'invite_code', readString(group.inviteCode));
  // Baileys' WAMessageAddressingMode is a string enum of exactly these values.
  const mode: string | undefined = group.addressingMode;
  if (mode === 'pn' || mode === 'lid') data.addressing_mode = mode;
  if (group.participants) data.participants = participantsOf(group.participants);
  const author = addressOf(group.author, group.authorPn);
  setIf(data, 'author_jid', author.jid);
  setIf(data, 'author_lid', author.lid);
  data.raw = toRawJson(group);
  return data;
}

/** `groups.upsert`: a snapshot, re-sent on every connect — id: group + content hash. */
export function mapGroupUpserts(groups: GroupMetadata[], ctx: MapContext, sink: MapSink): void {
  for (const group of groups) {
    const data = groupData(group);
    if (!data) {
      sink.skip('missing_key', 'group without id');
      continue;
    }
    const full = { ...data, subject: data.subject ?? '', participants: data.participants ?? [] };
    const id = eventIdOf(ctx, 'group.upserted', data.group_jid, contentHash(full));
    sink.emit(makeEvent(ctx, 'group.upserted', id, undefined, full));
  }
}

/** `groups.update`: a settings delta with no time or id — random id, repeats collapsed. */
export function mapGroupUpdates(
  updates: Array<Partial<GroupMetadata>>,
  ctx: MapContext,
  sink: MapSink,
): void {
  for (const update of updates) {
    const data = groupData(update);
    if (!data) {
      sink.skip('missing_key', 'group update without id');
      continue;
    }
    if (ctx.lastState?.changed(`group:${data.group_jid}`, contentHash(data)) === false) {
      sink.skip('repeated_update', 'group update identical to the previous one');
      continue;
    }
    sink.emit(makeEvent(ctx, 'group.updated', randomEventId(), undefined, data));
  }
}

const PARTICIPANT_EVENT = {
  add: 'group.participants_added',
  remove: 'group.participants_removed',
  promote: 'group.participants_promoted',
  demote: 'group.participants_demoted',
  modify: 'group.participants_modified',
} as const;

/**
 * `group-participants.update`. Baileys passes neither the notification's id nor its time, and
 * the same action on the same people recurs (added, removed, added again), so random ids.
 */
export function mapParticipantsUpdate(
  update: BaileysEventMap['group-participants.update'],
  ctx: MapContext,
  sink: MapSink,
): void {
  // Checked at run time: WhatsApp adds actions, and an unknown one must not map to `undefined`.
  if (!Object.hasOwn(PARTICIPANT_EVENT, update.action)) {
    sink.skip('unknown_action', `participants action ${String(update.action)}`);
    return;
  }
  const type = PARTICIPANT_EVENT[update.action];
  const groupJid = readString(update.id);
  if (groupJid === undefined) {
    sink.skip('missing_key', 'participants update without group id');
    return;
  }
  const data: EventData<typeof type> = {
    group_jid: groupJid,
    participants: participantsOf(update.participants),
  };
  const author = addressOf(update.author, update.authorPn);
  setIf(data, 'author_jid', author.jid);
  setIf(data, 'author_lid', author.lid);
  sink.emit(makeEvent(ctx, type, randomEventId(), undefined, data));
}

const JOIN_METHODS = new Set(['invite_link', 'linked_group_join', 'non_admin_add'] as const);
type JoinMethod = NonNullable<EventData<'group.join_requested'>['method']>;

function isJoinMethod(value: unknown): value is JoinMethod {
  return typeof value === 'string' && (JOIN_METHODS as Set<string>).has(value);
}

/** `group.join-request`: no id or time either, and a request can be made again — random ids. */
export function mapJoinRequest(
  request: BaileysEventMap['group.join-request'],
  ctx: MapContext,
  sink: MapSink,
): void {
  const groupJid = readString(request.id);
  const who = addressOf(request.participantPn, request.participant);
  if (groupJid === undefined || who.jid === undefined) {
    sink.skip('missing_key', 'join request without group or participant');
    return;
  }
  const data: EventData<'group.join_requested'> = {
    group_jid: groupJid,
    participant_jid: who.jid,
    action: request.action,
  };
  setIf(data, 'participant_lid', who.lid);
  const author = addressOf(request.author, request.authorPn);
  setIf(data, 'author_jid', author.jid);
  setIf(data, 'author_lid', author.lid);
  if (isJoinMethod(request.method)) data.method = request.method;
  sink.emit(makeEvent(ctx, 'group.join_requested', randomEventId(), undefined, data));
}
