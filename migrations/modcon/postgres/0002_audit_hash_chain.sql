-- The audit record becomes tamper-evident (SPEC §11): each row keeps the hash of the row
-- before it and its own hash over a canonical encoding of its content. Rows written
-- before this migration are chained by `modcon migrate` right after it, the one update
-- the append-only trigger lets through: filling in a missing chain, nothing else.

alter table modcon.modcon_audit_log add column prev_hash text;
alter table modcon.modcon_audit_log add column hash text;

create or replace function modcon.audit_log_is_append_only() returns trigger
language plpgsql as $$
begin
    if tg_op = 'UPDATE'
       and old.hash is null and new.hash is not null
       and (new.id, new.at, new.batch_id, new.actor_id, new.actor_name, new.action,
            new.target_type, new.target_id, new.target_label, new.counts, new.reason,
            new.details)
           is not distinct from
           (old.id, old.at, old.batch_id, old.actor_id, old.actor_name, old.action,
            old.target_type, old.target_id, old.target_label, old.counts, old.reason,
            old.details)
    then
        return new;
    end if;
    raise exception 'modcon_audit_log is append-only: % refused', tg_op;
end;
$$;
