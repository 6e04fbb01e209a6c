-- modcon's own tables, apart from the platform's (SPEC §2): operator credentials and the
-- audit record. No foreign keys to the platform, whose ids may be integers, uuids or
-- text, and whose rows may go while the record of them stays.

create table modcon_operators (
    -- The platform user's id in its text form.
    user_id        text primary key,
    password_hash  text,
    failed_logins  integer not null default 0,
    locked_until   text,
    created_at     text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at     text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

create table modcon_audit_log (
    id            integer primary key autoincrement,
    at            text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    batch_id      text not null,
    actor_id      text,
    actor_name    text not null,
    action        text not null,
    target_type   text not null,
    target_id     text,
    target_label  text not null default '',
    counts        text not null default '{}',
    reason        text,
    details       text not null default '{}'
);
create index modcon_audit_log_batch on modcon_audit_log (batch_id);
create index modcon_audit_log_target on modcon_audit_log (target_id);
create index modcon_audit_log_actor_at on modcon_audit_log (actor_id, at);

create trigger modcon_audit_log_no_update before update on modcon_audit_log
begin
    select raise(abort, 'modcon_audit_log is append-only: UPDATE refused');
end;

create trigger modcon_audit_log_no_delete before delete on modcon_audit_log
begin
    select raise(abort, 'modcon_audit_log is append-only: DELETE refused');
end;

-- `insert or replace` deletes the old row without firing delete triggers: refuse any
-- insert that names an id already taken.
create trigger modcon_audit_log_no_replace before insert on modcon_audit_log
when new.id is not null and exists (select 1 from modcon_audit_log where id = new.id)
begin
    select raise(abort, 'modcon_audit_log is append-only: replacing a row refused');
end;
