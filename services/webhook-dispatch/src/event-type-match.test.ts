import { describe, expect, it } from 'vitest';
import { matchesEventType } from './event-type-match.ts';

describe('matchesEventType', () => {
  it('matches everything with *', () => {
    expect(matchesEventType(['*'], 'message.received')).toBe(true);
    expect(matchesEventType(['*'], 'session.connected')).toBe(true);
  });

  it('matches exact types only exactly', () => {
    expect(matchesEventType(['message.received'], 'message.received')).toBe(true);
    expect(matchesEventType(['message.received'], 'message.received.extra')).toBe(false);
    expect(matchesEventType(['message.received'], 'message.sent')).toBe(false);
  });

  it('matches a prefix glob', () => {
    expect(matchesEventType(['message.*'], 'message.received')).toBe(true);
    expect(matchesEventType(['message.*'], 'message.reaction.added')).toBe(true);
    expect(matchesEventType(['message.*'], 'session.connected')).toBe(false);
    expect(matchesEventType(['message.*'], 'messages.received')).toBe(false);
    expect(matchesEventType(['message.*'], 'message')).toBe(false);
  });

  it('matches a suffix glob', () => {
    expect(matchesEventType(['*.deleted'], 'message.deleted')).toBe(true);
    expect(matchesEventType(['*.deleted'], 'chat.deleted')).toBe(true);
    expect(matchesEventType(['*.deleted'], 'message.deleted_for_me')).toBe(false);
    expect(matchesEventType(['*.deleted'], 'message.received')).toBe(false);
  });

  it('matches globs with several stars without letting pieces overlap', () => {
    expect(matchesEventType(['group.*.*'], 'group.participants.added')).toBe(true);
    expect(matchesEventType(['*.participants.*'], 'group.participants.added')).toBe(true);
    expect(matchesEventType(['a*a'], 'a')).toBe(false);
    expect(matchesEventType(['ab*b*bc'], 'abbc')).toBe(false);
    expect(matchesEventType(['ab*b*bc'], 'abbbc')).toBe(true);
  });

  it('matches when any pattern matches, and nothing for no patterns', () => {
    expect(matchesEventType(['session.*', 'message.read'], 'message.read')).toBe(true);
    expect(matchesEventType(['session.*', 'message.read'], 'message.sent')).toBe(false);
    expect(matchesEventType([], 'message.sent')).toBe(false);
  });
});
