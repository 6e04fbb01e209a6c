-- TOTP second factor (SPEC §11): the operator's secret (base32), the last time step a
-- code was accepted for, when enrolment was confirmed, and the one-time recovery codes
-- as a JSON array of argon2 hashes.

alter table modcon_operators
    add column totp_secret text,
    add column totp_last_step bigint,
    add column mfa_enrolled_at datetime(6),
    add column recovery_codes varchar(4000) not null default '[]';
