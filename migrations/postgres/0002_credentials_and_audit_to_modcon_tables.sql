-- Operator credentials and the audit record move into modcon's own tables (created by
-- modcon's migrations, which run first). Nothing is lost: hashes, failure counts, locks
-- and every audit row with its id are copied before the old places are dropped.

insert into modcon.modcon_operators (user_id, password_hash, failed_logins, locked_until)
select id::text, password_hash, failed_logins, locked_until
from users
where password_hash is not null or failed_logins > 0 or locked_until is not null;

insert into modcon.modcon_audit_log
    (id, at, batch_id, actor_id, actor_name, action, target_type, target_id, target_label,
     counts, reason, details)
overriding system value
select id, at, batch_id, actor_id::text, actor_name, action, target_type, target_id::text,
       target_label, counts, reason, details
from audit_log
order by id;

select setval(pg_get_serial_sequence('modcon.modcon_audit_log', 'id'),
              coalesce((select max(id) from modcon.modcon_audit_log), 0) + 1, false);

drop table audit_log;
drop function audit_log_is_append_only();

alter table users
    drop column password_hash,
    drop column failed_logins,
    drop column locked_until;
