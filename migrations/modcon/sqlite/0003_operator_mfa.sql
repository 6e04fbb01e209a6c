-- TOTP second factor (SPEC §11): the operator's secret (base32), the last time step a
-- code was accepted for (a code is accepted once), when enrolment was confirmed, and
-- the one-time recovery codes as a JSON array of argon2 hashes (a used one is removed).

alter table modcon_operators add column totp_secret text;
alter table modcon_operators add column totp_last_step integer;
alter table modcon_operators add column mfa_enrolled_at text;
alter table modcon_operators add column recovery_codes text not null default '[]';
