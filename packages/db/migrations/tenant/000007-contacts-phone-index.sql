-- Persistence's onboarding check asks, for every batch, whether a sender is already a known
-- contact by LID, by JID or by phone-number JID. The first two are indexed (000004); without this
-- one the phone-number lookup hashes every contact of the instance on every batch.
CREATE INDEX contacts_phone_idx ON :SCHEMA.contacts (instance, phone_jid);
