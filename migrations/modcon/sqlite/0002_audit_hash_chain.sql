-- The audit record becomes tamper-evident (SPEC §11): each row keeps the hash of the row
-- before it and its own hash over a canonical encoding of its content. Rows written
-- before this migration are chained by `modcon migrate` right after it, the one update
-- the append-only trigger lets through: filling in a missing chain, nothing else.

alter table modcon_audit_log add column prev_hash text;
alter table modcon_audit_log add column hash text;

drop trigger modcon_audit_log_no_update;

create trigger modcon_audit_log_no_update before update on modcon_audit_log
when not (
    old.hash is null and new.hash is not null
    and new.id is old.id and new.at is old.at and new.batch_id is old.batch_id
    and new.actor_id is old.actor_id and new.actor_name is old.actor_name
    and new.action is old.action and new.target_type is old.target_type
    and new.target_id is old.target_id and new.target_label is old.target_label
    and new.counts is old.counts and new.reason is old.reason
    and new.details is old.details
)
begin
    select raise(abort, 'modcon_audit_log is append-only: UPDATE refused');
end;
