-- modcon's own tables, apart from the platform's (SPEC §2): operator credentials and the
-- audit record. Created in schema `modcon` (made by `modcon migrate`); no foreign keys to
-- the platform, whose ids may be integers, uuids or text, and whose rows may go while
-- the record of them stays.

create table modcon.modcon_operators (
    -- The platform user's id in its text form.
    user_id        text primary key,
    password_hash  text,
    failed_logins  integer not null default 0,
    locked_until   timestamptz,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now()
);

create table modcon.modcon_audit_log (
    id            bigint generated always as identity primary key,
    at            timestamptz not null default now(),
    batch_id      uuid not null,
    actor_id      text,
    actor_name    text not null,
    action        text not null,
    target_type   text not null,
    target_id     text,
    target_label  text not null default '',
    counts        jsonb not null default '{}',
    reason        text,
    details       jsonb not null default '{}'
);
create index modcon_audit_log_batch on modcon.modcon_audit_log (batch_id);
create index modcon_audit_log_target on modcon.modcon_audit_log (target_id);
create index modcon_audit_log_actor_at on modcon.modcon_audit_log (actor_id, at);

create function modcon.audit_log_is_append_only() returns trigger
language plpgsql as $$
begin
    raise exception 'modcon_audit_log is append-only: % refused', tg_op;
end;
$$;

create trigger modcon_audit_log_no_update_or_delete
    before update or delete on modcon.modcon_audit_log
    for each row execute function modcon.audit_log_is_append_only();

create trigger modcon_audit_log_no_truncate
    before truncate on modcon.modcon_audit_log
    for each statement execute function modcon.audit_log_is_append_only();
