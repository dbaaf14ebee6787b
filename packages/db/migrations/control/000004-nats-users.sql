-- The NATS users minted for tenants (`tenant create`, `nats-credentials tenant`): their public keys
-- only, never the seeds, so `nats-credentials revoke` can name them in the account JWT's
-- revocations. Rows outlive the tenant (`tenant delete`): a deleted tenant's credentials are exactly
-- what must be revoked afterwards.
CREATE TABLE :SCHEMA.nats_users (
  public_key text PRIMARY KEY CHECK (public_key ~ '^U[A-Z2-7]{55}$'),
  tenant text NOT NULL,
  issued_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
CREATE INDEX nats_users_by_tenant ON :SCHEMA.nats_users (tenant);
