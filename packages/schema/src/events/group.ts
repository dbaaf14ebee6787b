import { z } from 'zod';
import { jidSchema, rawSchema, timestampSchema } from './common.ts';

export const groupParticipantSchema = z.object({
  jid: jidSchema,
  lid: jidSchema.optional(),
  /** Null for a plain member. */
  admin: z.enum(['admin', 'superadmin']).nullable().optional(),
});
export type GroupParticipant = z.infer<typeof groupParticipantSchema>;

/** Who made a change (the `author` of group notifications), both JIDs when Baileys gives both. */
const authorFields = {
  author_jid: jidSchema.optional(),
  author_lid: jidSchema.optional(),
};

const groupFields = {
  group_jid: jidSchema,
  subject: z.string().max(1024).optional(),
  subject_owner_jid: jidSchema.optional(),
  subject_owner_lid: jidSchema.optional(),
  subject_time: timestampSchema.optional(),
  owner_jid: jidSchema.optional(),
  owner_lid: jidSchema.optional(),
  created_at: timestampSchema.optional(),
  description: z.string().optional(),
  description_id: z.string().max(256).optional(),
  /** Only admins may edit group settings. */
  restrict: z.boolean().optional(),
  /** Only admins may send messages. */
  announce: z.boolean().optional(),
  member_add_mode: z.boolean().optional(),
  join_approval_mode: z.boolean().optional(),
  is_community: z.boolean().optional(),
  is_community_announce: z.boolean().optional(),
  linked_parent_jid: jidSchema.optional(),
  size: z.number().int().nonnegative().optional(),
  ephemeral_duration: z.number().int().nonnegative().optional(),
  invite_code: z.string().max(256).optional(),
  addressing_mode: z.enum(['pn', 'lid']).optional(),
  participants: z.array(groupParticipantSchema).optional(),
  ...authorFields,
  raw: rawSchema.optional(),
};

/** Group metadata as fetched or announced (`groups.upsert`): subject and participants always set. */
export const groupUpsertedDataSchema = z.object({
  ...groupFields,
  subject: z.string().max(1024),
  participants: z.array(groupParticipantSchema),
});

/** A change to a group's settings (`groups.update`): only what changed, and who changed it. */
export const groupUpdatedDataSchema = z.object(groupFields);
export type GroupUpdatedData = z.infer<typeof groupUpdatedDataSchema>;

/**
 * Members added, removed, promoted, demoted, or changed number: the event type says which
 * (`group.participants_added` …), the data is the same for all.
 */
export const groupParticipantsDataSchema = z.object({
  group_jid: jidSchema,
  ...authorFields,
  participants: z.array(groupParticipantSchema),
});
export type GroupParticipantsData = z.infer<typeof groupParticipantsDataSchema>;

/** Someone asked to join a group that needs approval, or their request was revoked/rejected. */
export const groupJoinRequestedDataSchema = z.object({
  group_jid: jidSchema,
  ...authorFields,
  participant_jid: jidSchema,
  participant_lid: jidSchema.optional(),
  action: z.enum(['created', 'revoked', 'rejected']),
  method: z.enum(['invite_link', 'linked_group_join', 'non_admin_add']).optional(),
});
