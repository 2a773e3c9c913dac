-- Request nonces seen per access key, kept until their validity window ends (replay protection).
CREATE TABLE nonces (
    key_id      TEXT   NOT NULL,
    nonce       TEXT   NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX nonces_by_expiry ON nonces (expires_at);
